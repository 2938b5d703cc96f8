"""What pruning does, measured: corrupt a data set's labels, score them, train with and without the flagged items.

Used by ``labelsieve prune --simulate`` and ``benchmarks/data_quality.py``. 70% of the items are the labelled set
(labels corrupted), 30% a clean test set; the learner is trained on (a) all labels, (b) minus cleanlab's flags,
(c) minus as many random items, (d) minus as many lowest-value items, (e) minus the scorecard's prune items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from labelsieve.quality.assess import Assessment, assess


def corrupt(y: np.ndarray, noise: str, rng: np.random.Generator, pairs: dict[str, str] | None = None) -> np.ndarray:
    """``symN``: N% of the items get a uniformly chosen other class; ``asymN``: N% of each class's items move to
    its confusable class ``pairs[c]`` (default: the next class in sorted order)."""
    kind = "asym" if noise.startswith("asym") else "sym"
    try:
        rate = int(noise.removeprefix(kind)) / 100
    except ValueError as exc:
        raise ValueError(f"noise must be symN or asymN (N in percent), got {noise!r}") from exc
    given = np.asarray(y).astype(object).copy()
    classes = sorted(set(given.tolist()))
    if kind == "sym":
        for i in rng.choice(len(given), int(round(rate * len(given))), replace=False):
            given[i] = rng.choice([c for c in classes if c != y[i]])
        return given
    pairs = pairs or {c: classes[(k + 1) % len(classes)] for k, c in enumerate(classes)}
    for c in classes:
        members = np.flatnonzero(np.asarray(y) == c)
        for i in rng.choice(members, int(round(rate * len(members))), replace=False):
            given[i] = pairs[c]
    return given


def detection(flagged: np.ndarray, score: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = int((flagged & truth).sum())
    out = {"flagged": int(flagged.sum()), "precision": tp / max(1, int(flagged.sum())),
           "recall": tp / max(1, int(truth.sum()))}
    out["auroc"] = float(roc_auc_score(truth, score)) if 0 < truth.sum() < len(truth) else float("nan")
    return out


def _accuracy(make: Callable[[], Any], items: Sequence[Any], given: np.ndarray, keep: np.ndarray,
              test_items: Sequence[Any], test_y: np.ndarray) -> float:
    learner = make().fit([items[i] for i in np.flatnonzero(keep)], [str(v) for v in given[keep]])
    return float(np.mean(np.array(learner.predict(test_items)) == test_y))


def pruning_experiment(*, items: Sequence[Any], labels: np.ndarray, make_learner: Callable[[], Any], noise: str,
                       seed: int, pairs: dict[str, str] | None = None) -> tuple[dict[str, Any], Assessment]:
    rng = np.random.default_rng(seed)
    y = np.asarray([str(v) for v in labels], dtype=object)
    order = rng.permutation(len(y))
    cut = int(0.7 * len(y))
    train, test = order[:cut], order[cut:]
    given = corrupt(y[train], noise, rng, pairs)
    truth = given != y[train]
    train_items = [items[i] for i in train]
    learner = make_learner().fit(train_items, [str(v) for v in given])
    result = assess(inputs=train_items, labels=[str(v) for v in given], task_ids=list(range(cut)),
                    annotation_ids=list(range(cut)), learner=learner, make_learner=make_learner, seed=seed)
    rows = sorted(result.rows, key=lambda r: r.task_id)
    flagged = np.array([r.flagged for r in rows])
    value = np.array([r.value for r in rows])
    pruned = np.array([r.recommendation == "prune" for r in rows])
    n_flag = int(flagged.sum())
    everything = np.ones(cut, dtype=bool)
    random_keep, low_keep = everything.copy(), everything.copy()
    random_keep[rng.choice(cut, n_flag, replace=False)] = False
    low_keep[np.argsort(value)[:n_flag]] = False
    test_items, test_y = [items[i] for i in test], y[test]
    keeps = {"all": everything, "minus_flagged": ~flagged, "minus_random": random_keep,
             "minus_lowest_value": low_keep, "minus_pruned": ~pruned}
    report = {
        "noise": noise, "seed": seed, "n": cut, "flips": int(truth.sum()),
        "ours": detection(flagged, np.array([r.issue_score for r in rows]), truth),
        "pruned": int(pruned.sum()), "pruned_true": int((pruned & truth).sum()),
        "review": int(sum(r.recommendation == "review" for r in rows)),
        "acc": {k: _accuracy(make_learner, train_items, given, keep, test_items, test_y) for k, keep in keeps.items()},
        "truth": truth, "train": train, "given": given,
    }
    return report, result
