"""Data audit: planted copies of training items in the test set are found (leakage), a planted duplicate pair with
different labels is flagged, blank rows and unreadable items are listed, and the audit goes on."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from labelsieve.quality.audit import audit


def _planted() -> tuple[np.ndarray, list[str], list[str | None], list[int]]:
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))[:900]
    X, y = X[order].astype(np.float64), [str(v) for v in y[order]]
    sets = ["labelled"] * 300 + ["pool"] * 400 + ["test"] * 200
    labels: list[str | None] = [y[i] if sets[i] != "pool" else None for i in range(900)]
    # leakage: test items 700..709 are exact copies of labelled items 0..9, 710..714 near copies of pool items
    for k in range(10):
        X[700 + k] = X[k]
    for k in range(5):
        X[710 + k] = X[300 + k] + rng.normal(0, 0.05, 64)
    # a mislabelled duplicate pair inside the labelled set: item 20 copied onto 21 with another label
    X[21] = X[20]
    labels[21] = str((int(y[20]) + 1) % 10)
    X[40] = 0.0  # a blank image
    return X, sets, labels, list(range(900))


def test_planted_cross_set_duplicates_and_a_mislabelled_pair_are_found() -> None:
    X, sets, labels, ids = _planted()
    report = audit(X, sets=sets, labels=labels, ids=ids, unreadable=[9999])
    test_cross = next(c for c in report["cross_set"] if c["query"] == "test")
    leaked = {e["id"] for e in test_cross["examples"]}
    assert set(range(700, 715)) <= leaked, sorted(leaked)
    assert report["leakage"]["found"] and report["leakage"]["test_items"] >= 15
    assert report["leakage"]["sentence"].startswith("LEAKAGE: ")
    assert report["exact_duplicates"]["cross_set_groups"] >= 10
    conflicts = report["exact_duplicates"]["conflicts"]
    assert any({m["id"] for m in group} == {20, 21} for group in conflicts)
    assert report["counts"]["conflicting_label_duplicates"] >= 1
    assert report["blank_or_constant"]["ids"] == [40]
    assert report["unreadable"] == {"count": 1, "ids": [9999]}
    assert report["outliers"]["count"] >= 1 and report["distributions"]["classes"]["labelled"]
    assert report["non_iid"]["non_iid"] is False  # a shuffled order


def test_a_clean_split_reports_no_leakage_and_sorted_data_is_non_iid() -> None:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(1).permutation(len(y))[:600]
    sets = ["labelled"] * 400 + ["test"] * 200
    report = audit(X[order], sets=sets, labels=[str(v) for v in y[order]], ids=list(range(600)))
    assert not report["leakage"]["found"] and report["leakage"]["sentence"].startswith("No leakage")
    by_class = np.argsort(y[order], kind="stable")  # items ordered by class: neighbours sit next to each other
    ordered = audit(X[order][by_class], sets=sets, labels=[str(v) for v in y[order][by_class]], ids=list(range(600)))
    assert ordered["non_iid"]["non_iid"] is True
