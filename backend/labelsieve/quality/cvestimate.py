"""A stratified 5-fold estimate of per-class recall, precision and macro-F1 on a project's labelled set.

Minority-class performance without a separate test set: the project's learner recipe (learner, parameters,
balancing; synthesis is left out, it would cost minutes per fold) is refitted on 4/5 of the labels and
predicts the held-out fifth, with folds from scikit-learn's ``StratifiedKFold``. A class with fewer labels
than folds cannot be held out in every fold: its labels stay in the training part of every fold (the model
still learns and predicts it) but it gets no recall or precision of its own, and the result lists it under
``too_few``. Macro-F1 is the mean over the estimated classes.

Cost: ``folds`` fits of the recipe. It runs in the data-quality thread after a retrain has been pushed
(never on the retrain or serving path); above ``max_labels`` labels a stratified subsample of that size is
used, and the result says so. The labelled set is unbiased here only as far as the labels are: active
learning chose them, so they over-represent hard items and the estimate is pessimistic for a random item.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import StratifiedKFold

from labelsieve.balancing import prepare_training_set
from labelsieve.balancing.stages import routed_params
from labelsieve.quality.confusion import confusion_summary

N_FOLDS = 5
MAX_LABELS = 2000

Fit = Callable[[Sequence[Any], list[str]], Any]  # fit the recipe on (inputs, labels), return the fitted learner


def stratified_cap(y: np.ndarray, max_labels: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of at most ``max_labels`` items, every class in proportion (each keeps min(n, N_FOLDS) at least)."""
    if len(y) <= max_labels:
        return np.arange(len(y))
    keep: list[np.ndarray] = []
    share = max_labels / len(y)
    for c in sorted(set(y.tolist())):
        members = np.flatnonzero(y == c)
        take = min(len(members), max(N_FOLDS, int(round(share * len(members)))))
        keep.append(rng.choice(members, take, replace=False))
    return np.sort(np.concatenate(keep))


def cross_validate(inputs: Sequence[Any], labels: Sequence[str], *, fit: Fit, folds: int = N_FOLDS, seed: int = 0,
                   max_labels: int = MAX_LABELS) -> dict[str, Any]:
    """Out-of-fold per-class recall/precision (with support) and macro-F1; ``status`` says if it could be made."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    y_all = np.asarray([str(label) for label in labels], dtype=object)
    positions = stratified_cap(y_all, max_labels, rng)
    y = y_all[positions]
    counts = Counter(y.tolist())
    too_few = {c: int(n) for c, n in sorted(counts.items()) if n < folds}
    estimated = sorted(c for c, n in counts.items() if n >= folds)
    base = {"folds": folds, "n_labels": int(len(y_all)), "n_used": int(len(y)), "capped": bool(len(y) < len(y_all)),
            "too_few": too_few, "estimated_classes": estimated}
    if not estimated or len(counts) < 2:
        return {**base, "status": "too_few_labels", "per_class": {}, "macro_f1": None,
                "note": f"needs two classes and at least {folds} labels of a class to estimate anything"}
    tested = np.flatnonzero(np.isin(y, estimated))
    always_train = np.flatnonzero(~np.isin(y, estimated))
    predicted = np.empty(len(y), dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(0, 2**31 - 1)))
    for train_part, test_part in splitter.split(np.zeros(len(tested)), y[tested]):
        train = np.concatenate([tested[train_part], always_train])
        test = tested[test_part]
        learner = fit([inputs[positions[i]] for i in train], [str(v) for v in y[train]])
        proba = np.asarray(learner.predict_proba([inputs[positions[i]] for i in test]))
        predicted[test] = [learner.classes_[k] for k in proba.argmax(axis=1)]
    truth, guess = list(y[tested]), list(predicted[tested])
    recall = recall_score(truth, guess, labels=estimated, average=None, zero_division=0)
    precision = precision_score(truth, guess, labels=estimated, average=None, zero_division=0)
    per_class = {c: {"recall": float(r), "precision": float(p), "support": int(counts[c])}
                 for c, r, p in zip(estimated, recall, precision, strict=True)}
    return {**base, "status": "ok", "per_class": per_class, "n_tested": len(truth),
            "accuracy": float(np.mean(np.asarray(truth, dtype=object) == np.asarray(guess, dtype=object))),
            "macro_f1": float(f1_score(truth, guess, labels=estimated, average="macro", zero_division=0)),
            "confusion": confusion_summary(truth, guess, classes=estimated),
            "seconds": round(time.perf_counter() - started, 3)}


def recipe_fit(create: Callable[[dict[str, Any]], Any], learner_params: dict[str, Any], balancing: str | None,
               balancing_params: dict[str, Any], learner_name: str, seed: int) -> Fit:
    """Fit as the retrain does (learner + balancing), synthesis switched off."""
    def fit(X: Sequence[Any], y: list[str]) -> Any:
        if not balancing:
            return create(dict(learner_params)).fit(X, y)
        ts = prepare_training_set(X, y, method=balancing, params={**balancing_params, "synthesis": False},
                                  learner_name=learner_name, rng=np.random.default_rng(seed))
        staged = type(create(dict(learner_params)))  # constructors only store parameters: free
        learner = create(routed_params(staged, learner_params, ts.learner_overrides))
        return learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight)
    return fit
