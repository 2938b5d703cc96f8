"""Out-of-fold predicted probabilities of the project's own learner on its labelled items.

Two paths, chosen per learner (``mode="auto"``):

- ``refit``: K fresh learners of the project's recipe, each fit on K-1 folds and predicting the held-out fold
  (vector and text learners: a logistic regression each, seconds at 10k items);
- ``head``: the fitted learner's embeddings are frozen and only a logistic-regression head is cross-fitted on
  them (image learners: one forward pass instead of K CNN trainings). The embedding saw every label, so these
  probabilities are slightly optimistic; cleanlab's ranking only needs them to be ordered sensibly.

K is ``min(max_folds, smallest class count)`` (at least 2). Folds are stratified and stable across rounds: items
of a class are ordered by a hash of their task id and dealt round-robin, so an item keeps its fold while labels
arrive and scores of two rounds are comparable.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelsieve.learners.linear import LinearHead

REFIT_KINDS = ("vector", "text")


@dataclass
class OutOfFold:
    proba: np.ndarray  # (n, n_classes) in the order of ``classes``
    classes: list[str]
    folds: np.ndarray  # fold of each item
    k: int
    mode: str  # refit | head


def choose_k(y: Sequence[str], max_folds: int = 5) -> int:
    counts = Counter(y)
    return max(2, min(max_folds, min(counts.values()) if counts else 2))


def stable_folds(keys: Sequence[int], y: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Stratified fold per item, a function of its key (task id) and class only."""
    folds = np.zeros(len(y), dtype=np.int64)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(y):
        by_class.setdefault(label, []).append(i)
    for label, members in by_class.items():
        members.sort(key=lambda i: (zlib.crc32(f"{keys[i]}:{seed}".encode()), keys[i]))
        offset = zlib.crc32(f"{label}:{seed}".encode()) % k  # classes do not all start in fold 0
        for rank, i in enumerate(members):
            folds[i] = (rank + offset) % k
    return folds


def _scatter(proba: np.ndarray, learner_classes: Sequence[str], classes: list[str]) -> np.ndarray:
    out = np.zeros((proba.shape[0], len(classes)))
    index = {c: j for j, c in enumerate(classes)}
    for col, c in enumerate(learner_classes):
        out[:, index[c]] = proba[:, col]
    return out


def out_of_fold(
    *,
    inputs: Sequence[Any],
    y: Sequence[str],
    keys: Sequence[int],
    make_learner: Callable[[], Any],
    input_kind: str,
    embeddings: np.ndarray | None = None,
    mode: str = "auto",
    max_folds: int = 5,
    seed: int = 0,
    C: float = 1.0,
) -> OutOfFold:
    """Out-of-fold probabilities; ``embeddings`` (the fitted learner's ``embed``) is needed for ``head``."""
    classes = sorted(set(y))
    if mode == "auto":
        mode = "refit" if input_kind in REFIT_KINDS else "head"
    if mode not in ("refit", "head"):
        raise ValueError(f"cross-fitting mode must be auto, refit or head, got {mode!r}")
    k = choose_k(y, max_folds)
    folds = stable_folds(keys, y, k, seed)
    y_arr = np.asarray(y, dtype=object)
    proba = np.zeros((len(y), len(classes)))
    if mode == "head" and embeddings is None:
        raise ValueError("the head path needs the learner's embeddings")
    for fold in range(k):
        test = np.flatnonzero(folds == fold)
        train = np.flatnonzero(folds != fold)
        if len(test) == 0:
            continue
        train_classes = sorted(set(y_arr[train]))
        if len(train_classes) < 2:  # degenerate fold: no information, uniform
            proba[test] = 1.0 / len(classes)
            continue
        if mode == "refit":
            learner = make_learner()
            learner.fit([inputs[i] for i in train], list(y_arr[train]))
            proba[test] = _scatter(learner.predict_proba([inputs[i] for i in test]), learner.classes_, classes)
        else:
            assert embeddings is not None
            index = {c: j for j, c in enumerate(train_classes)}
            head = LinearHead.fit(embeddings[train], np.array([index[c] for c in y_arr[train]]), len(train_classes),
                                  C=C, class_weight=None, sample_weight=None, max_iter=1000, random_state=seed)
            proba[test] = _scatter(head.predict_proba(embeddings[test]), train_classes, classes)
    return OutOfFold(proba=proba, classes=classes, folds=folds, k=k, mode=mode)
