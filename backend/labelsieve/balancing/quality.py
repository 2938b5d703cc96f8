"""Quality gate for synthetic samples: keep only what a classifier trained on the *real*
labelled data assigns to the intended class with enough confidence (DiffuLT-style filtering)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labelsieve.arrays import to_pil

#: classify(images) -> (n, n_classes) probabilities, columns in ``classes`` order
Classify = Callable[[Sequence[Any]], np.ndarray]


def quality_gate(
    images: Sequence[Any], labels: Sequence[str], *, classify: Classify, classes: Sequence[str], threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean keep-mask and the confidence of each sample for its intended class."""
    if len(images) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    proba = np.asarray(classify(images), dtype=np.float64)
    column = {label: i for i, label in enumerate(classes)}
    confidence = np.array([proba[i, column[label]] if label in column else 0.0 for i, label in enumerate(labels)])
    predicted = proba.argmax(axis=1)
    intended = np.array([column.get(label, -1) for label in labels])
    return (predicted == intended) & (confidence >= threshold), confidence


def pixel_classifier(images: Sequence[Any], labels: Sequence[str], *, size: int = 16,
                     random_state: int = 0) -> tuple[Classify, list[str]]:
    """A logistic regression on ``size``×``size`` grey pixels of the real images: the default gate."""
    from sklearn.linear_model import LogisticRegression

    features = grey_pixels(images, size)
    model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=random_state)
    model.fit(features, np.asarray(labels))
    classes = [str(c) for c in model.classes_]

    def classify(batch: Sequence[Any]) -> np.ndarray:
        return model.predict_proba(grey_pixels(batch, size))

    return classify, classes


def grey_pixels(images: Sequence[Any], size: int) -> np.ndarray:
    from PIL import Image


    rows = []
    for item in images:
        pil = to_pil(item).convert("L")
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BILINEAR)
        rows.append(np.asarray(pil, dtype=np.float32).reshape(-1) / 255.0)
    return np.vstack(rows) if rows else np.zeros((0, size * size), dtype=np.float32)


def novelty_gate(
    images: Sequence[Any], labels: Sequence[str], *, real_images: Sequence[Any], real_labels: Sequence[str],
    min_novelty: float, size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep-mask against near-copies, and each sample's novelty.

    Novelty = the L2 distance (grey ``size``×``size`` pixels) from a sample to the nearest *real* image of its
    class, divided by the median leave-one-out nearest-neighbour distance between real images of the same class
    (pooled over classes with at least 2 images). A DDPM trained on two tail images mostly returns jittered copies
    of them (novelty ≪ 1); a sample is kept when its novelty is at least ``min_novelty``."""
    if len(images) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    real = grey_pixels(real_images, size)
    real_y = np.asarray(real_labels)
    loo = []
    for c in np.unique(real_y):
        members = real[real_y == c]
        if len(members) >= 2:
            d = np.linalg.norm(members[:, None, :] - members[None, :, :], axis=2)
            np.fill_diagonal(d, np.inf)
            loo.extend(d.min(axis=1).tolist())
    scale = float(np.median(loo)) if loo else 1.0
    synthetic = grey_pixels(images, size)
    novelty = np.empty(len(images))
    for i, (row, label) in enumerate(zip(synthetic, labels, strict=True)):
        members = real[real_y == label]
        nearest = float(np.linalg.norm(members - row, axis=1).min()) if len(members) else np.inf
        novelty[i] = nearest / max(scale, 1e-12)
    return novelty >= min_novelty, novelty
