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
