"""Per-class numbers of a simulation report: recall and precision of every class, and precision-recall curves
of the minority classes (the rarest few by pool frequency), from each round's stored test-set probabilities.

A PR curve per seed comes from :func:`sklearn.metrics.precision_recall_curve` (one class against the rest);
seeds are averaged as interpolated precision (the best precision at recall >= r) on a fixed recall grid, the
usual way to average PR curves. Average precision (AP) is the mean of the per-seed values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from labelsieve.simulate.store import RunStore

RECALL_GRID = np.linspace(0.0, 1.0, 51)
N_MINORITY = 3


def minority_classes(pool_counts: dict[str, float], n: int = N_MINORITY) -> list[str]:
    """The rarest ``n`` classes of the pool (at most half the classes, at least one), rarest first."""
    k = max(1, min(n, len(pool_counts) // 2))
    return sorted(pool_counts, key=lambda c: (pool_counts[c], c))[:k]


def interpolated_precision(positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Precision on :data:`RECALL_GRID`: the best precision reached at a recall of at least each grid point."""
    precision, recall, _ = precision_recall_curve(positive, scores)
    return np.array([precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in RECALL_GRID])


def round_at(rounds: list[dict[str, Any]], at: int | None) -> dict[str, Any]:
    """The last round (``at`` None) or the last one with at most ``at`` labels (the first round if none)."""
    if at is None:
        return rounds[-1]
    earlier = [r for r in rounds if r["n_labels"] <= at]
    return earlier[-1] if earlier else rounds[0]


def pr_curve(store: RunStore, strategy: str, runs: dict[int, dict[str, Any]], label: str,
             at: int | None) -> dict[str, Any] | None:
    """Seed-averaged PR curve of ``label`` for one strategy at round ``at``; None when no seed kept probabilities."""
    curves, aps, labels, prevalence = [], [], [], []
    for seed, run in runs.items():
        row = round_at(run["rounds"], at)
        held = store.load_heldout(strategy, seed, row["n_labels"])
        if held is None:
            continue
        positive = np.asarray(held["truth"]) == label
        if not positive.any():
            continue
        column = held["classes"].index(label) if label in held["classes"] else None
        scores = held["proba"][:, column] if column is not None else np.zeros(len(positive))
        curves.append(interpolated_precision(positive, scores))
        aps.append(float(average_precision_score(positive, scores)))
        labels.append(int(row["n_labels"]))
        prevalence.append(float(positive.mean()))
    if not curves:
        return None
    return {"recall": RECALL_GRID.tolist(), "precision": np.mean(curves, axis=0).tolist(),
            "ap": float(np.mean(aps)), "ap_per_seed": aps, "n_labels": labels,
            "prevalence": float(np.mean(prevalence))}  # a chance-level model's precision


def _mean_of(runs: list[dict[str, Any]], key: str, c: str, at: int | None) -> float | None:
    values = [round_at(r["rounds"], at).get(key, {}).get(c) for r in runs]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def per_class_summary(store: RunStore, runs: dict[str, dict[int, dict[str, Any]]], classes: list[str],
                      pool_counts: dict[str, float], *, at: int | None = None) -> dict[str, Any]:
    """``minority`` classes, per-class recall / precision / AP per strategy (mean over seeds) and the minority
    classes' PR curves, at the final round or at the last round with at most ``at`` labels."""
    minority = minority_classes(pool_counts)
    out: dict[str, Any] = {"minority": minority, "at": at, "strategies": {}}
    for s, by_seed in runs.items():
        seed_runs = list(by_seed.values())
        table = {c: {key: _mean_of(seed_runs, f"per_class_{key}", c, at) for key in ("recall", "precision", "ap")}
                 for c in classes}
        scalar = {m: float(np.mean([round_at(r["rounds"], at)[m] for r in seed_runs])) for m in ("macro_f1", "g_mean")}
        out["strategies"][s] = {
            "n_labels": int(round_at(seed_runs[0]["rounds"], at)["n_labels"]), "per_class": table, **scalar,
            "pr_curves": {c: pr_curve(store, s, by_seed, c, at) for c in minority},
        }
    return out
