"""Balancing steps that add rows to the training set: vector resampling (SMOTE and its kin) and synthesis.

Synthesized images pass two gates before they train: a classifier trained on the real images must agree with
their class (``gate_threshold``) and they must not be near-copies of a real image (``min_novelty``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labelsieve.arrays import as_matrix
from labelsieve.balancing.base import BalancingError, SyntheticBatch
from labelsieve.balancing.methods import all_methods
from labelsieve.balancing.quality import novelty_gate, pixel_classifier, quality_gate
from labelsieve.balancing.resampling import resample_vectors
from labelsieve.balancing.training_set import TrainingSet
from labelsieve.registry import PluginLoadError, UnknownPluginError, get_registry

#: synthetic images closer to a real image of their class than this share of the typical real-to-real distance
#: are near-copies and dropped (quality.novelty_gate; ``min_novelty``): a generator that memorised its training
#: images adds nothing new; the DDPM's kept samples had a median novelty of 1.67 (README, Balancing)
DEFAULT_MIN_NOVELTY = 0.1


def apply_vector_resampling(ts: TrainingSet, part: str, params: dict[str, Any], rng: np.random.Generator,
                             embed: Callable[[Sequence[Any]], np.ndarray] | None) -> None:

    if embed is not None:
        matrix = np.asarray(embed(ts.X), dtype=np.float32)
    else:
        try:
            matrix = as_matrix(ts.X)
        except (TypeError, ValueError) as exc:
            raise BalancingError(
                f"{part} interpolates feature vectors, but these inputs are not numeric vectors; use the vector "
                "learner on embeddings, or random_over / augment for images and texts"
            ) from exc
    X_res, y_res, info = resample_vectors(matrix, np.asarray(ts.y), part, rng=rng,
                                          k_neighbors=int(params.get("k_neighbors", 5)),
                                          n_clusters=params.get("n_clusters"))
    n_old = len(ts.y)
    ts.X, ts.y = X_res, [str(v) for v in y_res]
    ts.synthetic_mask = np.concatenate([ts.synthetic_mask, np.ones(len(y_res) - n_old, dtype=bool)])
    if ts.sample_weight is not None:
        ts.sample_weight = np.concatenate([ts.sample_weight, np.ones(len(y_res) - n_old)])
    ts.info[part] = info


def apply_synthesizer(ts: TrainingSet, part: str, params: dict[str, Any], rng: np.random.Generator,
                      embed: Callable[[Sequence[Any]], np.ndarray] | None) -> None:
    registry = get_registry("synthesizers")
    try:
        synthesizer = registry.create(part, params.get("synthesizer_params", {}))
    except UnknownPluginError as exc:
        raise BalancingError(f"unknown balancing method {part!r}; synthesizers: {', '.join(registry.names())}; "
                             f"other methods: {', '.join(all_methods())}") from exc
    except PluginLoadError as exc:
        raise BalancingError(str(exc)) from exc
    real = ~ts.synthetic_mask
    X_real = [x for x, r in zip(ts.X, real, strict=True) if r]
    y_real = [label for label, r in zip(ts.y, real, strict=True) if r]
    counts = Counter(y_real)
    fill = float(params.get("synthetic_fill", 1.0))
    cap = int(params.get("max_synthetic_per_class", 500))
    oversample = float(params.get("oversample", 1.5))  # draw extra so the gate can drop some
    wanted = {c: min(cap, max(0, int(round(fill * max(counts.values()))) - n)) for c, n in counts.items()}
    wanted = {c: k for c, k in wanted.items() if k > 0}
    started = time.perf_counter()
    try:
        synthesizer.fit(X_real, y_real, rng=rng)
        images, labels = synthesizer.sample({c: int(np.ceil(k * oversample)) for c, k in wanted.items()}, rng=rng)
    except (BalancingError, RuntimeError, ValueError, OSError) as exc:  # the round trains on the real items
        ts.info.setdefault("skipped", []).append(
            f"{part}: the synthesizer failed ({type(exc).__name__}: {exc}); trained without synthetic items")
        ts.info["synthetic_seconds"] = round(time.perf_counter() - started, 3)
        return
    threshold = float(params.get("gate_threshold", 0.5))
    if params.get("quality_gate", True) and images:
        classify, classes = pixel_classifier(X_real, y_real, random_state=int(rng.integers(0, 2**31 - 1)))
        keep, confidence = quality_gate(images, labels, classify=classify, classes=classes, threshold=threshold)
    else:
        keep, confidence = np.ones(len(images), dtype=bool), np.full(len(images), np.nan)
    min_novelty = float(params.get("min_novelty", DEFAULT_MIN_NOVELTY))
    if min_novelty > 0 and images:  # drop near-copies of the real images (diversity, not only confidence)
        novel, _ = novelty_gate(images, labels, real_images=X_real, real_labels=y_real, min_novelty=min_novelty)
        keep = keep & novel
    chosen: list[int] = []
    taken: Counter[str] = Counter()
    for i in np.flatnonzero(keep):
        if taken[labels[i]] < wanted[labels[i]]:
            chosen.append(int(i))
            taken[labels[i]] += 1
    batch = SyntheticBatch(
        images=[images[i] for i in chosen], labels=[labels[i] for i in chosen],
        confidence=confidence[chosen], generator=part,
        config=synthesizer.get_params() | {"gate_threshold": threshold, "min_novelty": min_novelty},
        rejected=int((~keep).sum()),
    )
    weight = float(params.get("synthetic_weight", 1.0))
    if isinstance(ts.X, np.ndarray):
        ts.X = np.concatenate([ts.X, np.stack(batch.images).reshape(len(chosen), *ts.X.shape[1:])]) if chosen else ts.X
    else:
        ts.X = ts.X + batch.images
    ts.y = ts.y + batch.labels
    ts.synthetic_mask = np.concatenate([ts.synthetic_mask, np.ones(len(chosen), dtype=bool)])
    if ts.sample_weight is not None or weight != 1.0:
        base = ts.sample_weight if ts.sample_weight is not None else np.ones(len(ts.synthetic_mask) - len(chosen))
        ts.sample_weight = np.concatenate([base, np.full(len(chosen), weight)])
    ts.info["synthetic"] = batch
    ts.info["synthetic_seconds"] = round(time.perf_counter() - started, 3)
    ts.info["synthetic_drawn"] = len(images)
    ts.info["synthesizer"] = synthesizer
    if getattr(synthesizer, "cost_", None):
        ts.info["synthetic_cost"] = synthesizer.cost_
    if wanted and not chosen:
        ts.info.setdefault("skipped", []).append(
            f"{part}: none of the {len(images)} drawn images passed the quality gates (classifier agreement >= "
            f"{threshold}, novelty >= {min_novelty}); trained without synthetic items")
