"""The audit of one simulation split (``labelsieve.quality.audit``): the training pool against the test set, on the
full-data learner's features, stored with the seed's full-data record and summarised in ``report.json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.quality.audit import audit


def split_audit(learner: Any, train_inputs: Sequence[Any], train_labels: Sequence[str], test_inputs: Sequence[Any],
                test_labels: Sequence[str], *, seed: int, unreadable: Sequence[Any] = ()) -> dict[str, Any]:
    try:
        features = np.vstack([np.asarray(learner.embed(list(train_inputs)), dtype=np.float64),
                              np.asarray(learner.embed(list(test_inputs)), dtype=np.float64)])
    except NotImplementedError as exc:  # a plugin learner without embeddings: nothing to audit on
        return {"skipped": f"the learner has no features to audit on ({exc})"}
    n_train = len(train_inputs)
    ids = [f"pool:{k}" for k in range(n_train)] + [f"test:{k}" for k in range(len(test_inputs))]
    return audit(features, sets=["pool"] * n_train + ["test"] * len(test_inputs),
                 labels=[str(v) for v in [*train_labels, *test_labels]], ids=ids, unreadable=unreadable, seed=seed)


def report_audit(fulls: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """``report.json``'s ``audit``: the first seed's counts and checks, and leakage per seed."""
    audited = {seed: full["audit"] for seed, full in fulls.items() if full.get("audit", {}).get("leakage")}
    if not audited:
        return None
    first = audited[min(audited)]
    leak = {str(seed): a["leakage"]["test_items"] for seed, a in audited.items()}
    found = any(a["leakage"]["found"] for a in audited.values())
    worst = max(audited.values(), key=lambda a: a["leakage"]["test_items"])
    return {"seed": min(audited), "counts": first["counts"], "leakage": {
        "found": found, "test_items_per_seed": leak, "sentence": worst["leakage"]["sentence"]},
        "checks": {k: v for k, v in first.items() if k not in ("counts", "leakage")}}
