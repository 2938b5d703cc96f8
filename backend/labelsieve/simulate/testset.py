"""A fixed test set (``labelsieve simulate --test-dataset``): every round is scored on it, the pool is not split.

A long-tailed pool needs a balanced test set (a split of the pool is as long-tailed as the pool, so its
per-class recall of the rarest class rests on one or two items), and users have their own labelled test
data. The test set must be the same kind of item as the pool (same image size, same number of features)
and may only hold classes the pool has; every pool class needs at least one test item, otherwise its
recall and the G-mean are undefined.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

import numpy as np

from labelsieve.simulate.datasets import Dataset, DatasetError


def _shape(dataset: Dataset) -> tuple[int, ...]:
    first = dataset.items[0]
    return tuple(np.asarray(first).shape) if dataset.kind != "text" else ()


def check_test_set(pool: Dataset, test: Dataset) -> None:
    """Raise :class:`DatasetError` naming the problem when ``test`` cannot score a simulation over ``pool``."""
    if len(test) == 0:
        raise DatasetError(f"test set {test.name!r} is empty")
    if test.kind != pool.kind:
        raise DatasetError(f"test set {test.name!r} holds {test.kind} items but the pool {pool.name!r} holds "
                           f"{pool.kind} items; give a test set in the same format as --dataset")
    if pool.kind != "text" and _shape(test) != _shape(pool):
        what = "features" if pool.kind == "vector" else "image shape"
        raise DatasetError(f"test set {test.name!r} items have {what} {_shape(test)} but the pool's have "
                           f"{_shape(pool)}; the model trained on the pool cannot read them")
    unknown = sorted(set(test.classes) - set(pool.classes))
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10])
        raise DatasetError(f"test set {test.name!r} has label(s) {shown} that the pool does not have (pool labels: "
                           f"{', '.join(pool.classes)}); a model trained on the pool can never predict them")
    missing = sorted(set(pool.classes) - set(test.classes))
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10])
        raise DatasetError(f"test set {test.name!r} has no item of pool class(es) {shown}: their recall and the "
                           "G-mean would be undefined; add test items of those classes or remove them from the pool")


def describe_test_set(test: Dataset, spec: str | None = None) -> dict[str, Any]:
    """What the run store records about the test set (a resume with another test set is refused)."""
    counts = Counter(test.labels.tolist())
    return {"name": test.name, "path": spec, "kind": test.kind, "n": len(test), "classes": test.classes,
            "class_counts": {c: int(counts[c]) for c in test.classes},
            "fingerprint": zlib.crc32("\n".join(test.labels.tolist()).encode())}
