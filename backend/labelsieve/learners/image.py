"""Image classification with torch: a small CNN from scratch, or a torchvision backbone
(optionally pretrained from a local weights file) with a fresh linear head.

Weights are saved as safetensors plus a JSON config. ``predict_proba_samples`` runs Monte-Carlo
dropout passes (BALD). All randomness comes from ``random_state``; the global torch RNG is not
touched (``torch.random.fork_rng``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from labelsieve.arrays import to_pil
from labelsieve.balancing.augment import minority_strength, mix_batch
from labelsieve.balancing.base import Augmenter
from labelsieve.balancing.decoupled import drw_active, drw_class_weights, rebalance_classifier
from labelsieve.balancing.losses import LongTailLoss, class_counts
from labelsieve.balancing.samplers import EpochSampler
from labelsieve.devices import resolve_device
from labelsieve.learners.base import BaseLearner, check_training_labels
from labelsieve.learners.networks import ImageNet, build_network, check_image_size, flushed_denormals
from labelsieve.registry import get_registry
from labelsieve.storage.artifacts import read_json, write_json

# torch's default RNG is process-wide: a fit seeds it, then draws the initial weights and dropout masks from it.
# Two fits on different threads (a retrain beside the data-quality thread's 5-fold estimate) would draw from each
# other's seeded stream, so the same data and random_state could give different models. One seeded fit at a time.
_SEEDED_RNG = threading.RLock()


def _autocast(device: torch.device) -> Any:
    """bfloat16 autocast on CUDA (mixed precision), a no-op context on the CPU."""
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def images_to_tensor(images: Sequence[Any], size: int) -> torch.Tensor:
    """Resize to ``size``×``size`` RGB and stack as float32 in [0, 1], shape (n, 3, size, size)."""
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, item in enumerate(images):
        pil = to_pil(item).convert("RGB")
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(pil)
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


class ImageLearner(BaseLearner):
    input_kind: ClassVar[str] = "image"
    supports_mc_dropout: ClassVar[bool] = True

    def __init__(
        self,
        *,
        arch: str = "small",
        backbone_weights: str | None = None,
        image_size: int = 32,
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 2e-3,
        weight_decay: float = 5e-4,
        dropout: float = 0.25,
        augment: str | None = "light",
        random_state: int = 0,
        loss: str = "ce",
        loss_tau: float = 1.0,
        loss_beta: float = 0.999,
        sampler: str = "uniform",
        augmenter: str | None = None,
        augmenter_params: dict[str, Any] | None = None,
        augment_strength: float = 0.3,
        minority_boost: float = 0.6,
        batch_mix: str | None = None,
        mix_alpha: float = 1.0,
        drw_start: float | None = None,
        drw_beta: float = 0.9999,
        classifier: str = "joint",
        crt_epochs: int = 20,
        norm_tau: float = 1.0,
    ) -> None:
        self.arch = arch
        self.backbone_weights = backbone_weights
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.augment = augment
        self.random_state = random_state
        self.loss = loss
        self.loss_tau = loss_tau
        self.loss_beta = loss_beta
        self.sampler = sampler
        self.augmenter = augmenter
        self.augmenter_params = augmenter_params
        self.augment_strength = augment_strength
        self.minority_boost = minority_boost
        self.batch_mix = batch_mix
        self.mix_alpha = mix_alpha
        self.drw_start = drw_start
        self.drw_beta = drw_beta
        self.classifier = classifier
        self.crt_epochs = crt_epochs
        self.norm_tau = norm_tau

    # ------------------------------------------------------------------ helpers
    def _normalise(self, batch: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean_).view(1, 3, 1, 1)
        std = torch.as_tensor(self.std_).view(1, 3, 1, 1)
        return (batch - mean) / std

    def _augmenter(self) -> Any:
        if self.augmenter:
            return get_registry("augmenters").create(self.augmenter, self.augmenter_params or {})
        if not self.augment or self.augment == "none":
            return None
        if self.augment == "light":
            from torchvision.transforms import v2

            return v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
        raise ValueError(f"unknown augment {self.augment!r}; use 'light' or None")

    def _forward_batches(self, X: Sequence[Any], *, train_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
        self.check_fitted()
        net = self.net_
        net.train(False)
        if train_mode:  # MC dropout: dropout on, batch-norm statistics frozen
            for module in net.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.train(True)
        logits_parts, embed_parts = [], []
        device = resolve_device()
        net.to(device)
        with torch.no_grad(), _autocast(device):
            for start in range(0, len(X), 256):
                batch = self._normalise(images_to_tensor(X[start:start + 256], self.image_size))
                logits, embedding = net(batch.to(device))
                logits_parts.append(logits.double().cpu())
                embed_parts.append(embedding.float().cpu())
        net.train(False)
        net.to("cpu")
        logits = torch.cat(logits_parts) if logits_parts else torch.zeros(0, len(self.classes_))
        embeds = torch.cat(embed_parts) if embed_parts else torch.zeros(0, 1)
        return torch.softmax(logits, dim=1).numpy(), embeds.numpy()

    def check(self, what: str = "image_size") -> None:
        """Refuse an ``image_size`` the network cannot take before any fit: ``/setup`` answers 400."""
        check_image_size(self.arch, self.image_size, what)

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[str],
        *,
        sample_weight: np.ndarray | None = None,
        unlabeled: Sequence[Any] | None = None,
    ) -> Self:
        classes = check_training_labels(y)
        index = {label: i for i, label in enumerate(classes)}
        targets = torch.tensor([index[label] for label in y], dtype=torch.long)
        images = images_to_tensor(X, self.image_size)
        weights = torch.ones(len(y)) if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
        if self.arch == "efficientnet_lite0":  # its own TF-style scaling, (x·255 − 127)/128
            self.mean_ = np.full(3, 127.0 / 255.0, dtype=np.float32)
            self.std_ = np.full(3, 128.0 / 255.0, dtype=np.float32)
        elif self.backbone_weights:
            self.mean_ = np.array([0.485, 0.456, 0.406], dtype=np.float32)
            self.std_ = np.array([0.229, 0.224, 0.225], dtype=np.float32)
        else:
            self.mean_ = images.mean(dim=(0, 2, 3)).numpy().astype(np.float32)
            self.std_ = images.std(dim=(0, 2, 3)).clamp_min(1e-3).numpy().astype(np.float32)
        augmenter = self._augmenter()
        counts = class_counts(targets.numpy(), len(classes))
        criterion = LongTailLoss(loss=self.loss, counts=counts, tau=self.loss_tau, beta=self.loss_beta)
        deferred = drw_class_weights(counts, self.drw_beta)[targets] * weights
        device = resolve_device()  # the round's device (labelsieve.devices); data stays on the CPU
        with _SEEDED_RNG, torch.random.fork_rng(devices=[]), flushed_denormals():
            torch.manual_seed(self.random_state)
            net = build_network(self.arch, len(classes), dropout=self.dropout, backbone_weights=self.backbone_weights)
            net.to(device)
            generator = torch.Generator().manual_seed(self.random_state)
            sampler = EpochSampler(sampler=self.sampler, targets=targets.numpy(), batch_size=self.batch_size,
                                   generator=generator)
            strength = minority_strength(
                targets, counts, base=self.augment_strength, minority_boost=self.minority_boost
            )
            optimiser = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            steps_per_epoch = max(1, -(-len(y) // self.batch_size))
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimiser, max_lr=self.lr, total_steps=self.epochs * steps_per_epoch
            )
            net.train(True)
            for epoch in range(self.epochs):
                epoch_weights = deferred if drw_active(epoch, self.epochs, self.drw_start) else weights
                for idx in sampler.epoch():
                    if len(idx) < 2 and len(y) > 1:
                        continue  # batch-norm needs two samples
                    batch, batch_targets = images[idx], targets[idx]
                    if isinstance(augmenter, Augmenter):
                        batch = augmenter.transform(batch, strength[idx], generator)
                    elif augmenter is not None:
                        batch = torch.stack([augmenter(img) for img in batch])
                    if self.batch_mix:
                        batch, batch_targets = mix_batch(batch, batch_targets, len(classes), mode=self.batch_mix,
                                                         alpha=self.mix_alpha)
                    with _autocast(device):  # bfloat16 mixed precision on CUDA; nothing changes on the CPU
                        logits, _ = net(self._normalise(batch).to(device))
                    losses = criterion(logits.float().cpu(), batch_targets)
                    sampler.update(idx, losses)
                    loss = (losses * epoch_weights[idx]).sum() / epoch_weights[idx].sum().clamp_min(1e-8)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    schedule.step()
            net.train(False)
            net.to("cpu")
            if self.classifier != "joint":
                with torch.no_grad():
                    embeddings = torch.cat([net.backbone(self._normalise(images[s:s + 256]))
                                            for s in range(0, len(y), 256)])
                rebalance_classifier(net.head, embeddings, targets, classifier=self.classifier,
                                     crt_epochs=self.crt_epochs, norm_tau=self.norm_tau, batch_size=self.batch_size,
                                     lr=self.lr, weight_decay=self.weight_decay, generator=generator)
        self.net_: ImageNet = net
        self.classes_ = classes
        return self

    # ------------------------------------------------------------------ predict
    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        return self._forward_batches(X)[0]

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        return self._forward_batches(X)[1]

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        return self._forward_batches(X)

    def predict_proba_samples(self, X: Sequence[Any], n_samples: int, seed: int) -> np.ndarray:
        """Monte-Carlo dropout: ``(n_samples, n, n_classes)`` stochastic forward passes."""
        with _SEEDED_RNG, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return np.stack([self._forward_batches(X, train_mode=True)[0] for _ in range(n_samples)])

    # -------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        self.check_fitted()
        state = {key: value.detach().contiguous() for key, value in self.net_.state_dict().items()}
        save_file(state, str(directory / "image.safetensors"))
        write_json(directory / "image.json", {
            "classes": self.classes_, "params": self.get_params(),
            "mean": self.mean_.tolist(), "std": self.std_.tolist(),
        })

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "image.json")
        params = dict(meta["params"])
        learner = cls(**params)
        learner.classes_ = list(meta["classes"])
        learner.mean_ = np.array(meta["mean"], dtype=np.float32)
        learner.std_ = np.array(meta["std"], dtype=np.float32)
        # The saved state dict already holds the backbone weights: do not re-read the original file.
        net = build_network(learner.arch, len(learner.classes_), dropout=learner.dropout, backbone_weights=None)
        net.load_state_dict(load_file(str(directory / "image.safetensors")))
        net.train(False)
        learner.net_ = net
        return learner
