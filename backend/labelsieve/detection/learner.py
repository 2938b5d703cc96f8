"""A detector trained in the loop: torchvision Faster R-CNN, fit on (image, boxes) pairs, predicting boxes with the
full class distribution of every box (so per-box uncertainty is not limited to the winning score).

Inference runs the detector's stages itself (:mod:`labelsieve.detection.inference`) to keep, for every kept box, the
softmax over background + classes, and for every image the background probability of its top candidates (the rule
for an image with no detection). On CUDA it trains and predicts in mixed precision. Weights: safetensors + JSON.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from labelsieve.arrays import to_pil
from labelsieve.detection.dropout import SEED_BLOCK, DropoutScores, HeadSamples, image_disagreement
from labelsieve.detection.inference import autocast, run_stages
from labelsieve.detection.networks import build_detector
from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget, rescale
from labelsieve.devices import resolve_device
from labelsieve.heap import release_freed_memory
from labelsieve.learners.base import BaseLearner, NotFittedError, TrainingDataError
from labelsieve.storage.artifacts import read_json, write_json

_SEEDED_RNG = threading.RLock()  # one seeded fit at a time: torch's default RNG is process-wide
BATCH = 16  # images per inference batch: the pass's memory is bounded by it, not by the pool


class DetectorFitError(RuntimeError):
    """The detector could not fit (its loss diverged): the round fails, is recorded, and the last model serves."""


def _to_tensor(image: Any) -> torch.Tensor:
    array = np.asarray(to_pil(image).convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


class DetectorLearner(BaseLearner):
    input_kind: ClassVar[str] = "image"
    task_types: ClassVar[tuple[str, ...]] = ("boxes",)

    def __init__(
        self, *, arch: str = "tiny", image_size: int = 64, epochs: int = 30, batch_size: int = 8, lr: float = 5e-3,
        weight_decay: float = 1e-4, min_steps: int = 300, hflip: bool = True, weights_path: str | None = None,
        weights_name: str | None = None, score_threshold: float = 0.05, device: str = "auto",
        random_state: int = 0,
    ):
        self.arch = arch
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.min_steps = min_steps
        self.hflip = hflip
        self.weights_path = weights_path
        self.weights_name = weights_name
        self.score_threshold = score_threshold
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _device(self) -> torch.device:
        """``device="auto"`` follows the round's device (the project's ``device`` setting, labelsieve.devices)."""
        device: torch.device = resolve_device(None if self.device == "auto" else self.device)
        return device

    def _targets(self, y: Sequence[ImageTarget], device: torch.device) -> list[dict[str, torch.Tensor]]:
        index = {name: i + 1 for i, name in enumerate(self.classes_)}  # 0 is background
        return [{"boxes": torch.as_tensor(t.boxes, dtype=torch.float32).reshape(-1, 4).to(device),
                 "labels": torch.tensor([index[n] for n in t.labels], dtype=torch.int64, device=device)} for t in y]

    # ---------------------------------------------------------------------- fit
    def fit(self, X: Sequence[Any], y: Sequence[ImageTarget], *, classes: Sequence[str] | None = None,
            sample_weight: np.ndarray | None = None, unlabeled: Sequence[Any] | None = None) -> Self:
        """Train on images ``X`` and their boxes ``y`` (pixels; rescaled when the decoded image's size differs from
        the size the annotation was drawn on). ``unlabeled`` is not used: the detector learns from boxes only."""
        if len(X) != len(y):
            raise ValueError(f"{len(X)} images but {len(y)} targets")
        if sample_weight is not None:
            raise ValueError("the detector takes no sample weights (the boxes task type does no balancing)")
        if not any(len(t) for t in y):
            raise TrainingDataError("no labelled box yet: draw at least one box before the detector can train")
        names = sorted({n for t in y for n in t.labels}) if classes is None else list(classes)
        unknown = {n for t in y for n in t.labels} - set(names)
        if unknown:
            raise TrainingDataError(f"labels {sorted(unknown)} are not among the classes {names}")
        self.classes_ = names
        #: labelled boxes per class in the training set: what rare-class selection weighs predicted classes by
        self.class_counts_ = {n: sum(1 for t in y for label in t.labels if label == n) for n in names}
        device = self._device()
        images = [_to_tensor(x) for x in X]
        y = [rescale(t, int(i.shape[-1]), int(i.shape[-2])) for t, i in zip(y, images, strict=True)]
        targets = self._targets(y, torch.device("cpu"))
        with _SEEDED_RNG, torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            model = build_detector(self.arch, len(names) + 1, image_size=self.image_size,
                                   weights_path=self.weights_path, weights_name=self.weights_name).to(device)
            model.roi_heads.score_thresh = self.score_threshold
            params = [p for p in model.parameters() if p.requires_grad]
            optimiser = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
            per_epoch = max(1, -(-len(images) // self.batch_size))
            # a handful of labelled images would get a handful of steps: train at least min_steps. The tiny
            # detector is limited by image passes, not by images: about 2 400 (300 steps of 8) learn the shapes
            # set whether 70 or 200 images are labelled (benchmarks/results/detection.md, "detector recipe")
            epochs = max(self.epochs, -(-self.min_steps // per_epoch))
            steps = epochs * per_epoch
            schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=self.lr, total_steps=steps)
            scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
            rng = np.random.default_rng(self.random_state)
            model.train(True)
            self.losses_: list[float] = []
            for _epoch in range(epochs):
                order = rng.permutation(len(images))
                total = 0.0
                for start in range(0, len(order), self.batch_size):
                    batch = order[start:start + self.batch_size]
                    imgs, tgts = [], []
                    for i in batch:
                        image, target = images[i], dict(targets[i])
                        if self.hflip and rng.random() < 0.5:
                            width = image.shape[-1]
                            image = image.flip(-1)
                            boxes = target["boxes"].clone()
                            boxes[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
                            target["boxes"] = boxes
                        imgs.append(image.to(device))
                        tgts.append({k: v.to(device) for k, v in target.items()})
                    with autocast(device):
                        loss = sum(model(imgs, tgts).values())
                    optimiser.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(optimiser)
                    scaler.update()
                    schedule.step()
                    total += float(loss.detach())
                self.losses_.append(total)
            model.train(False)
        if not np.isfinite(self.losses_[-1]):
            raise DetectorFitError(f"the detector's loss diverged ({self.losses_[-1]}); lower lr (now {self.lr})")
        self.model_ = model
        return self

    # ------------------------------------------------------------------ predict
    @torch.inference_mode()
    def _run(self, images: list[torch.Tensor], dropout: tuple[int, float, torch.Generator] | None = None,
             ) -> tuple[list[Detections], np.ndarray, list[HeadSamples]]:
        """One pass of every stage over a batch (:func:`labelsieve.detection.inference.run_stages`), on the round's
        device."""
        model = self.model_
        device = self._device()
        if next(model.parameters()).device != device:  # the round's device may differ from the one it was fit on
            model = self.model_ = model.to(device)
        return run_stages(model, images, classes=self.classes_, score_threshold=self.score_threshold, device=device,
                          dropout=dropout)

    def dropout_samples(self, X: Sequence[Any], *, passes: int, rate: float, seed: int) -> list[HeadSamples]:
        """MC-dropout passes of the box head over every image's detections and top candidates; the backbone and
        the RPN run once per image, in batches of ``BATCH`` (:mod:`labelsieve.detection.dropout`). One generator
        seeded ``seed`` for all of ``X``."""
        self.check_fitted()
        generator = torch.Generator(device=self._device()).manual_seed(int(seed))
        samples: list[HeadSamples] = []
        for start in range(0, len(X), BATCH):
            samples.extend(self._run([_to_tensor(x) for x in X[start:start + BATCH]], (passes, rate, generator))[2])
        return samples

    def _pass(self, X: Sequence[Any], dropout: tuple[int, float, int] | None = None,
              ) -> tuple[list[Detections], np.ndarray, np.ndarray]:
        """Detections, embeddings and (with ``dropout = (passes, rate, seed)``) every image's dropout disagreement,
        in one pass of batches; the dropout stream is reseeded ``seed + start`` every ``SEED_BLOCK`` images."""
        if not hasattr(self, "model_"):
            raise NotFittedError("DetectorLearner is not fitted yet")
        detections: list[Detections] = []
        embeddings: list[np.ndarray] = []
        scores: list[float] = []
        generator: torch.Generator | None = None
        for start in range(0, len(X), BATCH):
            spec = None
            if dropout is not None:
                passes, rate, seed = dropout
                if generator is None or start % SEED_BLOCK == 0:
                    generator = torch.Generator(device=self._device()).manual_seed(int(seed) + start)
                spec = (passes, rate, generator)
            found, embedded, samples = self._run([_to_tensor(x) for x in X[start:start + BATCH]], spec)
            detections.extend(found)
            embeddings.append(embedded)
            scores.extend(image_disagreement(s) for s in samples)
            release_freed_memory()  # the batch's buffers, freed under the detections kept (labelsieve.heap)
        width = embeddings[0].shape[1] if embeddings else 0
        return (detections, np.concatenate(embeddings) if embeddings else np.zeros((0, width)),
                np.asarray(scores, dtype=np.float64))

    def infer(self, X: Sequence[Any]) -> tuple[list[Detections], np.ndarray]:  # type: ignore[override]
        """Detections and backbone embeddings of every image, in batches."""
        detections, embeddings, _ = self._pass(X)
        return detections, embeddings

    def infer_with_dropout(self, X: Sequence[Any], *, passes: int, rate: float, seed: int,
                           ) -> tuple[list[Detections], np.ndarray, DropoutScores]:
        """:meth:`infer_regions` plus every image's MC-dropout disagreement from the same pass (the box head's
        output is reused; only the predictor runs ``passes`` more times): what ``mc_dropout_boxes`` ranks by."""
        detections, embeddings, scores = self._pass(X, (passes, rate, seed))
        self._remember(X, detections)
        return detections, embeddings, DropoutScores(passes, rate, seed, scores)

    def _remember(self, X: Sequence[Any], detections: list[Detections]) -> None:
        self._memo = {id(x): (x, found) for x, found in zip(X, detections, strict=True)}

    def infer_regions(self, X: Sequence[Any]) -> tuple[list[Detections], np.ndarray]:
        """The service's region seam in one pass: detections and the backbone's pooled features (the task
        embedding the diversity strategies compare). The pool's detections are remembered (by image object)
        until the next call, for :meth:`predict` on images of that pool."""
        detections, embeddings = self.infer(X)
        self._remember(X, detections)
        return detections, embeddings

    def predict_regions(self, X: Sequence[Any]) -> list[Detections]:
        """Detections of ``X``; images of the last ranked pool (the same objects) are not run again, so the stop set
        a round predicts after its ranking costs only its images that left the pool. The memory is then dropped."""
        memo = getattr(self, "_memo", None) or {}
        hits = [memo.get(id(x)) for x in X]
        found: list[Detections | None] = [h[1] if h is not None and h[0] is x else None for h, x in zip(hits, X,
                                                                                                      strict=True)]
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            for i, detections in zip(missing, self.infer([X[i] for i in missing])[0], strict=True):
                found[i] = detections
        if len(missing) < len(X):
            self._memo = None
        return [f for f in found if f is not None]

    def predict(self, X: Sequence[Any]) -> list[Detections]:  # type: ignore[override]
        return self.predict_regions(X)

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        return self.infer(X)[1]

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError("a detector predicts boxes, not one class distribution per image: use infer()")

    # -------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        self.check_fitted()
        state = {k: v.detach().cpu().contiguous() for k, v in self.model_.state_dict().items()}
        save_file(state, str(directory / "detector.safetensors"))
        write_json(directory / "detector.json", {"classes": self.classes_, "params": self.get_params(),
                                                 "class_counts": getattr(self, "class_counts_", {})})

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "detector.json")
        learner = cls(**dict(meta["params"]))
        learner.classes_ = list(meta["classes"])
        learner.class_counts_ = {str(k): int(v) for k, v in dict(meta.get("class_counts", {})).items()}
        # the saved state holds every weight: neither the original file nor a download is needed again
        model = build_detector(learner.arch, len(learner.classes_) + 1, image_size=learner.image_size)
        model.load_state_dict(load_file(str(directory / "detector.safetensors")))
        model.roi_heads.score_thresh = learner.score_threshold
        learner.model_ = model.to(learner._device()).train(False)
        return learner

