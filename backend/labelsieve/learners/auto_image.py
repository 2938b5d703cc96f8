"""``auto_image``: images classified by a linear model on pixels (or on a pretrained encoder's vectors) while
labels are few, by the CNN (or the encoder's network fine-tuned) once it wins.

A CNN trained from scratch on 10-20 labelled images predicts one class for the whole pool (``make demo``
stayed at chance through 20 labels). A linear model on the pixels is useful from the first labels: the
images resized to at most ``pixel_size`` (never upscaled; one channel for grey images), classified by
:class:`~labelsieve.learners.vector.VectorLearner` with feature statistics from the pool and label spreading
over a kNN graph of the pool (``LINEAR_DEFAULTS``), overridden by ``linear_params``. From ``min_cnn_labels`` labels on
(and with ``cv_folds`` labels of every class) both are scored by stratified ``cv_folds``-fold
cross-validation on the labelled set, and the CNN (:class:`~labelsieve.learners.image.ImageLearner` with
``cnn_params``) is used only when its mean ``cv_metric`` is higher (``accuracy``; balancing sets
``balanced_accuracy``, so a balanced CNN is not judged by a score that favours the head-biased linear model);
``chosen_`` and ``cv_scores_`` say what was decided. Below ``min_cnn_labels`` no CNN is trained at all, so the
first rounds stay cheap.

With an ``encoder`` (a ``labelsieve.encoders`` plugin, built with ``encoder_params``; ``learner: auto`` names the
installed default, :func:`labelsieve.learners.auto.installed_image_encoder`) the linear stage, with its pool
statistics and label spreading, reads the encoder's vectors instead of pixels (cached by image content in the
embedding store: learners/image_vectors.py), and the CNN candidate is the encoder's own network fine-tuned with a
fresh head (``FINETUNE_DEFAULTS`` under ``cnn_params``; an encoder that cannot be fine-tuned here keeps the CNN from
scratch). That fine-tune is a candidate only where the round runs on a GPU, unless ``finetune_on_cpu``: on a CPU it
cost 1-10 minutes per retrain and won the cross-validation in 1 of 15 long-tail runs on three image sets, serving
worse than the linear stage when it did (benchmarks/results/generative.md, section 1c). On a non-digit image set
pretrained features needed far fewer labels than pixels (benchmarks/results/encoders.md). ``reason_`` says in
words which model serves and why.

The chosen model is saved in a sub-folder (``linear/`` or ``cnn/``) beside ``auto_image.json``. Strategies
that need Monte-Carlo dropout (``bald``, ``qbc`` with ``committee="mc_dropout"``) need ``learner=image``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from labelsieve.arrays import to_pil
from labelsieve.devices import resolve_device
from labelsieve.learners.base import BaseLearner, check_training_labels
from labelsieve.learners.image import ImageLearner, images_to_tensor
from labelsieve.learners.image_vectors import encoder_vectors
from labelsieve.learners.pool_features import pool_sample
from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import get_registry
from labelsieve.storage.artifacts import read_json, write_json

CHOICES = ("linear", "cnn")
#: the linear model's recipe under ``linear_params``: label spreading over the pool won on both image sets
#: (digits, long-tailed digits; benchmarks/learner_recipes.py and benchmarks/auto_image.py, README "Learners")
LINEAR_DEFAULTS: dict[str, Any] = {"semi_supervised": "label_spreading"}
#: how the cross-validation scores each candidate (``cv_metric``)
CV_METRICS: dict[str, Any] = {
    "accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score,
    "macro_f1": lambda truth, predicted: f1_score(truth, predicted, average="macro"),
}
#: on an encoder's vectors: pool statistics without label spreading (animal-shapes, margin, 1 seed: AULC 0.885 vs
#: 0.755 with label spreading; 5 seeds on animal-shapes / textures / lfw-faces: AULC 0.877 / 0.995 / 0.985 against
#: 0.821 / 0.993 / 0.972 for a plain scikit-learn margin loop on the same vectors; benchmarks/results/encoders.md)
ENCODER_LINEAR_DEFAULTS: dict[str, Any] = {"semi_supervised": None}
#: the fine-tune of an encoder's network under ``cnn_params``: few epochs, a small input and a low learning rate
#: keep a CPU round affordable (a GPU round, ``device``, can afford more through ``cnn_params``)
FINETUNE_DEFAULTS: dict[str, Any] = {"epochs": 8, "image_size": 96, "lr": 5e-4, "dropout": 0.2}


def pixel_vectors(images: Sequence[Any], size: int, grey: bool) -> np.ndarray:
    """``(n, channels·size·size)`` float32 pixels in [0, 1] (one channel when ``grey``), resized as the CNN does."""
    channels = 1 if grey else 3
    if len(images) == 0:
        return np.zeros((0, channels * size * size), dtype=np.float32)
    pixels = images_to_tensor(images, size)
    return (pixels.mean(dim=1) if grey else pixels).reshape(len(images), -1).numpy()


def pixel_layout(image: Any, pixel_size: int) -> tuple[int, bool]:
    """``(side, grey)`` for the linear model: never upscaled past the image's own size; grey for one-channel images."""
    pil = to_pil(image)
    return int(min(pixel_size, max(pil.size))), pil.mode in ("L", "1", "I", "F", "I;16")


class AutoImageLearner(BaseLearner):
    input_kind: ClassVar[str] = "image"
    #: balancing's torch methods (losses, samplers, DRW/cRT/τ-norm, augmentation) go into ``cnn_params``
    #: (labelsieve.balancing.stages); sample weights reach both stages through ``fit``
    torch_stage: ClassVar[tuple[str, type[BaseLearner]]] = ("cnn_params", ImageLearner)

    def __init__(
        self,
        *,
        pixel_size: int = 16,
        linear_params: dict[str, Any] | None = None,
        min_cnn_labels: int = 100,
        cv_folds: int = 3,
        cnn_params: dict[str, Any] | None = None,
        cv_metric: str = "accuracy",
        encoder: str | None = None,
        encoder_params: dict[str, Any] | None = None,
        finetune_on_cpu: bool = False,
        random_state: int = 0,
    ) -> None:
        self.pixel_size = pixel_size
        self.linear_params = linear_params
        self.min_cnn_labels = min_cnn_labels
        self.cv_folds = cv_folds
        self.cnn_params = cnn_params
        self.cv_metric = cv_metric
        self.encoder = encoder
        self.encoder_params = encoder_params
        self.finetune_on_cpu = finetune_on_cpu
        self.random_state = random_state

    def check(self) -> None:
        """Refuse bad ``linear_params`` values (``VectorLearner.check``), an encoder or CNN ``image_size`` its
        network cannot take (with an encoder the CNN is that network, fine-tuned) and unknown keys, before any
        fit: ``/setup`` answers 400."""
        try:
            linear = self._linear()
        except TypeError as exc:  # an unknown key in linear_params
            raise ValueError(f"bad linear_params: {exc}") from exc
        linear.check()
        encoder = self._encoder()
        if encoder is not None and hasattr(encoder, "check"):
            encoder.check()
        try:
            cnn = self._cnn()
        except TypeError as exc:  # an unknown key in cnn_params
            raise ValueError(f"bad cnn_params: {exc}") from exc
        cnn.check("cnn_params.image_size")

    def _linear(self) -> VectorLearner:
        defaults = ENCODER_LINEAR_DEFAULTS if self.encoder else LINEAR_DEFAULTS
        return VectorLearner(**{"random_state": self.random_state, **defaults, **(self.linear_params or {})})

    def _encoder(self) -> Any:
        """The encoder plugin (built once per learner), or None on pixels."""
        if not self.encoder:
            return None
        if getattr(self, "encoder_", None) is None:
            self.encoder_ = get_registry("encoders").create(self.encoder, self.encoder_params or {})
        return self.encoder_

    def _cnn(self) -> ImageLearner:
        encoder = self._encoder()
        finetune = None if encoder is None else encoder.finetune_params()
        base = {} if finetune is None else {**FINETUNE_DEFAULTS, **finetune}
        return ImageLearner(**{"random_state": self.random_state, **base, **(self.cnn_params or {})})

    def _pool_pixels(self, unlabeled: Sequence[Any] | None) -> np.ndarray | None:
        linear = self._linear()
        if not unlabeled or not (linear.pool_stats or linear.semi_supervised):
            return None
        keep = pool_sample(len(unlabeled), linear.pool_limit, np.random.default_rng(self.random_state))
        return self._pixels([unlabeled[int(i)] for i in keep])

    def _pixels(self, X: Sequence[Any]) -> np.ndarray:
        """The linear stage's features: the encoder's vectors, else the resized pixels."""
        encoder = self._encoder()
        if encoder is not None:
            return encoder_vectors(encoder, X)
        return pixel_vectors(X, self.side_, self.grey_)

    def _fine_tunes(self) -> bool:
        """Whether the CNN candidate is the encoder's own network (fine-tuned), not a CNN from scratch."""
        return bool(self.encoder) and self._cnn().arch != "small"

    def _cnn_skipped(self) -> bool:
        """The fine-tune is left out on a CPU round (``finetune_on_cpu`` tries it there)."""
        return self._fine_tunes() and not self.finetune_on_cpu and resolve_device().type == "cpu"

    def _reason(self, n_labels: int) -> str:
        features = f"{self.encoder} encoder vectors" if self.encoder else "pixels"
        cnn = "fine-tuned encoder network" if self._fine_tunes() else "CNN"
        if self.skipped_cnn_:
            return (f"linear model on {features}: {n_labels} labels (the {cnn} is tried on a GPU only: on a CPU it "
                    f"costs minutes per retrain and rarely wins; finetune_on_cpu: true tries it here)")
        if not self.cv_scores_:
            return (f"linear model on {features}: {n_labels} labels (the {cnn} is tried from {self.min_cnn_labels} "
                    f"labels with {self.cv_folds} of every class)")
        scores = (f"{self.cv_folds}-fold accuracy linear {self.cv_scores_['linear']:.3f}, "
                  f"{cnn} {self.cv_scores_['cnn']:.3f}")
        if self.chosen_ == "cnn":
            return f"{cnn} ({scores})"
        return f"linear model on {features} ({scores})"

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[str],
        *,
        sample_weight: np.ndarray | None = None,
        unlabeled: Sequence[Any] | None = None,
    ) -> Self:
        classes = check_training_labels(y)
        if self.cv_metric not in CV_METRICS:
            raise ValueError(f"cv_metric must be one of {sorted(CV_METRICS)}, got {self.cv_metric!r}")
        self.side_, self.grey_ = pixel_layout(X[0], self.pixel_size)
        pixels = self._pixels(X)
        pool = self._pool_pixels(unlabeled)
        self.cv_scores_: dict[str, float] = {}
        self.chosen_ = "linear"
        enough = len(y) >= self.min_cnn_labels and min(Counter(y).values()) >= self.cv_folds
        self.skipped_cnn_ = enough and self._cnn_skipped()
        if enough and not self.skipped_cnn_:
            self.cv_scores_ = self._cross_validate(X, pixels, list(y), sample_weight, pool)
            if self.cv_scores_["cnn"] > self.cv_scores_["linear"]:
                self.chosen_ = "cnn"
        if self.chosen_ == "cnn":
            self.model_: VectorLearner | ImageLearner = self._cnn().fit(X, y, sample_weight=sample_weight)
        else:
            self.model_ = self._linear().fit(pixels, y, sample_weight=sample_weight, unlabeled=pool)
        self.classes_ = classes
        self.reason_ = self._reason(len(y))
        return self

    def _cross_validate(self, X: Sequence[Any], pixels: np.ndarray, y: list[str], sample_weight: np.ndarray | None,
                        pool: np.ndarray | None) -> dict[str, float]:
        """Mean held-out ``cv_metric`` of each candidate over stratified folds of the labelled set."""
        score = CV_METRICS[self.cv_metric]
        folds = StratifiedKFold(n_splits=self.cv_folds, shuffle=True, random_state=self.random_state)
        labels = np.asarray(y)
        scores: dict[str, list[float]] = {name: [] for name in CHOICES}
        for train, test in folds.split(pixels, labels):
            weights = None if sample_weight is None else np.asarray(sample_weight)[train]
            linear = self._linear().fit(pixels[train], labels[train].tolist(), sample_weight=weights, unlabeled=pool)
            scores["linear"].append(float(score(labels[test], np.array(linear.predict(pixels[test])))))
            cnn = self._cnn().fit([X[int(i)] for i in train], labels[train].tolist(), sample_weight=weights)
            predicted = cnn.predict([X[int(i)] for i in test])
            scores["cnn"].append(float(score(labels[test], np.array(predicted))))
        return {name: float(np.mean(values)) for name, values in scores.items()}

    def _inputs(self, X: Sequence[Any]) -> Any:
        self.check_fitted()
        return X if self.chosen_ == "cnn" else self._pixels(X)

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        return self.model_.predict_proba(self._inputs(X))

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        return self.model_.embed(self._inputs(X))

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        return self.model_.infer(self._inputs(X))

    def save(self, directory: Path) -> None:
        self.check_fitted()
        (directory / self.chosen_).mkdir()
        self.model_.save(directory / self.chosen_)
        write_json(directory / "auto_image.json", {
            "classes": self.classes_, "params": self.get_params(), "chosen": self.chosen_,
            "cv_scores": self.cv_scores_, "side": self.side_, "grey": self.grey_, "reason": self.reason_,
        })

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "auto_image.json")
        learner = cls(**meta["params"])
        learner.classes_ = list(meta["classes"])
        learner.chosen_ = str(meta["chosen"])
        learner.cv_scores_ = dict(meta["cv_scores"])
        learner.side_, learner.grey_ = int(meta["side"]), bool(meta["grey"])
        learner.reason_ = str(meta.get("reason", ""))
        model_type = ImageLearner if learner.chosen_ == "cnn" else VectorLearner
        learner.model_ = model_type.load(directory / learner.chosen_)
        return learner
