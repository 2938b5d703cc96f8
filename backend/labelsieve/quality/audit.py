"""Data audit on a project's features: duplicates within and across labelled / pool / test (with conflicting
labels), outliers, blank or constant inputs, class and per-feature distributions, non-IID ordering.

Input: one feature row per item (the learner's features or ``embed``), which set it belongs to, its label (None
when unlabelled) and its id; items the loader could not read are passed as ``unreadable`` and listed.

- **Exact duplicates**: identical feature rows (a hash of the row's bytes), over every item: O(n).
- **Near duplicates**: nearest neighbour at a Euclidean distance under ``NEAR_FACTOR`` (0.13, cleanlab Datalab's
  ``near_duplicate`` default) times the median nearest-neighbour distance, on L2-normalised rows (scikit-learn
  ``NearestNeighbors``, exact). Within the audited sample and **across sets**: every test item against the
  labelled and pool items (leakage), every pool item against the labelled ones. A pair with different labels is a
  conflict.
- **Outliers**: cleanlab's ``OutOfDistribution`` (average distance to the k = 10 nearest neighbours, scored 0-1,
  on the same neighbour index); an
  item scoring under the 1st percentile of the scores is listed.
- **Blank or constant**: rows with no finite value or a single repeated value (an empty text, a flat image).
- **Distributions**: class counts per set; per feature, the two-sample Kolmogorov-Smirnov statistic between the
  test set (or pool) and the labelled set, largest first.
- **Non-IID**: are neighbours in feature space also neighbours in the item order? The index gaps of nearest
  neighbours are compared with those of random pairs (scipy's two-sample KS test, p < 0.01: non-IID).

Cost at 100k items: exact duplicates and counts on everything; near-duplicates, outliers, non-IID and feature
distributions on a uniform random sample of ``max_items`` (10,000); the cross-set search queries at most
``max_items`` items against at most ``max_index`` (50,000) others (a random subsample beyond, said in ``sampled``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from cleanlab.outlier import OutOfDistribution
from scipy.stats import ks_2samp
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

NEAR_FACTOR = 0.13
MAX_ITEMS = 10_000
MAX_INDEX = 50_000
SHOWN = 20
NON_IID_ALPHA = 0.01


def _pick(idx: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= cap else np.sort(rng.choice(idx, cap, replace=False))


def exact_duplicates(X: np.ndarray, sets: np.ndarray, labels: Sequence[str | None],
                     ids: Sequence[Any]) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(X):
        groups.setdefault(hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=16).hexdigest(),
                          []).append(i)
    dup = [g for g in groups.values() if len(g) > 1]
    cross = [g for g in dup if len({sets[i] for i in g}) > 1]
    trained = {"labelled", "pool"}
    leaked = {i for g in cross if trained & {str(sets[j]) for j in g} for i in g if sets[i] == "test"}
    conflict = [g for g in dup if len({labels[i] for i in g if labels[i] is not None}) > 1]
    show = lambda gs: [[{"id": ids[i], "set": str(sets[i]), "label": labels[i]} for i in g] for g in gs[:SHOWN]]  # noqa: E731
    return {"groups": len(dup), "items": sum(len(g) for g in dup), "cross_set_groups": len(cross),
            "conflicting_label_groups": len(conflict), "examples": show(cross + [g for g in dup if g not in cross]),
            "conflicts": show(conflict), "_test_hits": leaked}


def _near_scale(Z: np.ndarray) -> float:
    dist, _ = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z)
    positive = dist[:, 1][dist[:, 1] > 0]
    return float(np.median(positive)) if len(positive) else 0.0


def cross_set_pairs(Z: np.ndarray, sets: np.ndarray, labels: Sequence[str | None], ids: Sequence[Any],
                    query_set: str, index_sets: tuple[str, ...], radius: float, *, rng: np.random.Generator,
                    max_items: int = MAX_ITEMS, max_index: int = MAX_INDEX) -> dict[str, Any]:
    query = _pick(np.flatnonzero(sets == query_set), max_items, rng)
    index = _pick(np.flatnonzero(np.isin(sets, index_sets)), max_index, rng)
    out: dict[str, Any] = {"query": query_set, "against": list(index_sets), "n_query": int(len(query)),
                           "n_index": int(len(index)), "pairs": 0, "_hits": set(), "conflicting_labels": 0,
                           "examples": [],
                           "sampled": bool(len(query) < int((sets == query_set).sum())
                                           or len(index) < int(np.isin(sets, index_sets).sum()))}
    if len(query) == 0 or len(index) == 0:
        return out
    dist, nn = NearestNeighbors(n_neighbors=1).fit(Z[index]).kneighbors(Z[query])
    close = np.flatnonzero(dist[:, 0] <= radius)
    for q in close:
        i, j = int(query[q]), int(index[nn[q, 0]])
        conflict = labels[i] is not None and labels[j] is not None and labels[i] != labels[j]
        out["pairs"] += 1
        out["_hits"].add(i)
        out["conflicting_labels"] += int(conflict)
        if len(out["examples"]) < SHOWN:
            out["examples"].append({"id": ids[i], "set": query_set, "label": labels[i], "duplicate_of": ids[j],
                                    "duplicate_set": str(sets[j]), "duplicate_label": labels[j],
                                    "distance": round(float(dist[q, 0]), 5), "conflict": bool(conflict)})
    return out


def within_sample(Z: np.ndarray, sample: np.ndarray, labels: Sequence[str | None], ids: Sequence[Any],
                  sets: np.ndarray, radius: float) -> dict[str, Any]:
    """Near duplicates, outliers and non-IID ordering inside the audited sample (order = the items' order)."""
    k = min(10, len(sample) - 1)
    index = NearestNeighbors(n_neighbors=k).fit(Z[sample])  # Euclidean on unit rows: the cosine order
    dist, nn = index.kneighbors(Z[sample], n_neighbors=k + 1)
    near = [(a, int(nn[a, 1])) for a in range(len(sample)) if dist[a, 1] <= radius and a < nn[a, 1]]
    conflicts = [(a, b) for a, b in near if labels[sample[a]] is not None and labels[sample[b]] is not None
                 and labels[sample[a]] != labels[sample[b]]]
    ood = OutOfDistribution(params={"knn": index, "k": k})  # the same neighbour index, fitted once
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # cleanlab's progress and its
        warnings.simplefilter("ignore")  # note that the index was fitted already (on purpose: once, here)
        scores = np.asarray(ood.fit_score(features=Z[sample]), dtype=np.float64)
    cut = float(np.percentile(scores, 1))
    worst = np.argsort(scores)[: max(1, int(np.sum(scores < cut)))]
    gaps = np.abs(nn[:, 1:] - np.arange(len(sample))[:, None]).ravel()
    rng = np.random.default_rng(0)
    random_gaps = np.abs(rng.integers(0, len(sample), len(gaps)) - rng.integers(0, len(sample), len(gaps)))
    test = ks_2samp(gaps, random_gaps)
    pair = lambda a, b: {"id": ids[sample[a]], "set": str(sets[sample[a]]), "label": labels[sample[a]],  # noqa: E731
                         "duplicate_of": ids[sample[b]], "duplicate_set": str(sets[sample[b]]),
                         "duplicate_label": labels[sample[b]]}
    return {
        "near_duplicates": {"pairs": len(near), "conflicting_labels": len(conflicts),
                            "examples": [pair(a, b) for a, b in (conflicts + near)[:SHOWN]]},
        "outliers": {"method": "cleanlab OutOfDistribution (k-NN distance)", "threshold": round(cut, 6),
                     "count": int(len(worst)), "examples": [{"id": ids[sample[a]], "score": round(float(scores[a]), 6)}
                                                            for a in worst[:SHOWN]]},
        "non_iid": {"method": "KS test: index gaps of nearest neighbours vs random pairs",
                    "statistic": round(float(test.statistic), 4), "p_value": float(test.pvalue),
                    "non_iid": bool(test.pvalue < NON_IID_ALPHA)},
    }


def distributions(X: np.ndarray, sets: np.ndarray, labels: Sequence[str | None], sample: np.ndarray,
                  names: Sequence[str] | None) -> dict[str, Any]:
    classes = {str(s): dict(Counter(str(labels[i]) for i in np.flatnonzero(sets == s) if labels[i] is not None))
               for s in sorted(set(sets.tolist()))}
    present = set(sets.tolist())
    first = "labelled" if "labelled" in present else "pool"
    second = "test" if "test" in present else "pool"
    base, other = sample[sets[sample] == first], sample[sets[sample] == second]
    shifts = []
    if first != second and len(base) >= 5 and len(other) >= 5:
        for f in range(X.shape[1]):
            stat = ks_2samp(X[base, f], X[other, f]).statistic
            shifts.append({"feature": names[f] if names else f, "ks": round(float(stat), 4)})
        shifts.sort(key=lambda s: -s["ks"])
    return {"classes": classes, "feature_shift": {"compared": f"{first} vs {second}" if first != second else None,
                                                  "largest_ks": shifts[:10]}}


def audit(X: np.ndarray, *, sets: Sequence[str], labels: Sequence[str | None], ids: Sequence[Any],
          unreadable: Sequence[Any] = (), feature_names: Sequence[str] | None = None, seed: int = 0,
          max_items: int = MAX_ITEMS, max_index: int = MAX_INDEX) -> dict[str, Any]:
    X = np.asarray(X, dtype=np.float64).reshape(len(ids), -1)
    set_arr = np.asarray([str(s) for s in sets], dtype=object)
    rng = np.random.default_rng(seed)
    finite = np.isfinite(X)
    blank = ~finite.any(axis=1) | (np.nanmax(np.where(finite, X, np.nan), axis=1, initial=-np.inf)
                                   == np.nanmin(np.where(finite, X, np.nan), axis=1, initial=np.inf))
    X = np.where(finite, X, 0.0)
    Z = normalize(X)
    sample = _pick(np.arange(len(ids)), max_items, rng)
    radius = NEAR_FACTOR * _near_scale(Z[sample]) if len(sample) > 2 else 0.0
    report: dict[str, Any] = {
        "n": int(len(ids)), "sets": dict(Counter(set_arr.tolist())),
        "unreadable": {"count": len(unreadable), "ids": list(unreadable)[:SHOWN]},
        "blank_or_constant": {"count": int(blank.sum()), "ids": [ids[i] for i in np.flatnonzero(blank)[:SHOWN]]},
        "exact_duplicates": exact_duplicates(X, set_arr, labels, ids),
        "near_duplicate_radius": round(radius, 6),
        "sampled": {"audited": int(len(sample)), "of": int(len(ids)), "method": "uniform random sample"
                    if len(sample) < len(ids) else "all items"},
    }
    if len(sample) > 2:
        report |= within_sample(Z, sample, labels, ids, set_arr, radius)
    report["distributions"] = distributions(X, set_arr, labels, sample, feature_names)
    present = set(set_arr.tolist())
    cross = []
    if "test" in present:
        cross.append(cross_set_pairs(Z, set_arr, labels, ids, "test", ("labelled", "pool"), radius, rng=rng,
                                     max_items=max_items, max_index=max_index))
    if "pool" in present and "labelled" in present:
        cross.append(cross_set_pairs(Z, set_arr, labels, ids, "pool", ("labelled",), radius, rng=rng,
                                     max_items=max_items, max_index=max_index))
    report["cross_set"] = cross
    near_hits = next((c["_hits"] for c in cross if c["query"] == "test"), set())
    report["leakage"] = leakage_summary(report, report["exact_duplicates"].pop("_test_hits") | near_hits)
    for c in cross:
        c.pop("_hits")
    report["counts"] = {
        "unreadable": len(unreadable), "blank_or_constant": int(blank.sum()),
        "exact_duplicate_groups": report["exact_duplicates"]["groups"],
        "exact_cross_set_groups": report["exact_duplicates"]["cross_set_groups"],
        "conflicting_label_duplicates": report["exact_duplicates"]["conflicting_label_groups"]
        + report.get("near_duplicates", {}).get("conflicting_labels", 0)
        + sum(c["conflicting_labels"] for c in cross),
        "near_duplicate_pairs": report.get("near_duplicates", {}).get("pairs", 0),
        "test_items_leaked": report["leakage"]["test_items"],
        "outliers": report.get("outliers", {}).get("count", 0),
        "non_iid": report.get("non_iid", {}).get("non_iid"),
    }
    return report


def leakage_summary(report: dict[str, Any], hits: set[int]) -> dict[str, Any]:
    """How many test items have an exact copy (searched among all items) or a near copy (in the cross-set
    sample) among the training items (labelled or pool)."""
    test_cross = next((c for c in report.get("cross_set", []) if c["query"] == "test"), None)
    near = len(hits)
    n_test = int(report["sets"].get("test", 0))
    found = near > 0
    sentence = (f"LEAKAGE: {near} of {n_test} test items have an exact or near copy in the training pool; scores "
                "on them measure memory, not generalisation." if found else
                ("No leakage found between the training pool and the test set." if n_test else
                 "No test set to check for leakage."))
    if test_cross and test_cross.get("sampled"):
        sentence += " (exact copies: all items; near copies: a random sample)"
    return {"found": found, "test_items": near, "n_test": n_test, "sentence": sentence}
