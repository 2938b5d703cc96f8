"""The project page's plots: matplotlib figures returned as PNG ``data:`` URIs (None when there is nothing to plot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.pages.diagnosis import Diagnosis
from labelsieve.report.plots import figure_data_uri, new_figure
from labelsieve.storage.models import ModelVersion


def learning_curve(report: dict[str, Any]) -> str | None:
    """Prequential accuracy (Wilson 95% bars) and macro-F1 per version, the fitted curve and the projection."""
    points = report["curve"]
    if not points:
        return None
    fig = new_figure(9, 4, right=0.7)
    ax = fig.subplots()
    n = np.array([p["n_labels"] for p in points], dtype=np.float64)
    acc = np.array([p["accuracy"] for p in points])
    ci = np.array([p["accuracy_ci"] for p in points])
    bars = np.clip([acc - ci[:, 0], ci[:, 1] - acc], 0.0, None)  # Wilson bounds at 0 or 1 round a hair past acc
    ax.errorbar(n, acc, yerr=bars, fmt="o-", capsize=3, label="accuracy (prequential)")
    ax.plot(n, [p["macro_f1"] for p in points], "s--", color="tab:purple", label="macro-F1 (prequential)")
    projection = report["projection"]
    if projection.get("status") == "ok":
        end = max(float(n.max()), float(projection.get("labels_to_target") or 0)) * 1.15
        grid = np.linspace(max(1.0, float(n.min())), end, 200)
        a, b, c = projection["plateau"], projection["b"], projection["c"]
        ax.plot(grid, a - b * grid ** (-c), color="tab:green", label=f"fit a − b·n^−c (plateau {a:.2f})")
        ax.axhline(projection["target_accuracy"], color="grey", linestyle=":", label="target")
        if projection.get("labels_to_target_ci"):
            lo, hi = projection["labels_to_target_ci"]
            ax.axvspan(lo, min(hi, end), color="tab:green", alpha=0.12, label="labels to target, 95% interval")
        if projection.get("labels_to_target"):
            ax.axvline(projection["labels_to_target"], color="tab:green", linestyle="--", linewidth=1)
    estimate = report["accuracy_estimate"]
    if estimate["unbiased"] and estimate["ci"]:
        value, (lo, hi) = estimate["value"], estimate["ci"]
        ax.errorbar([n.max()], [value], yerr=[[max(0.0, value - lo)], [max(0.0, hi - value)]], fmt="D",
                    color="tab:red", capsize=4, label="audited accuracy (unbiased)")
    ax.set_xlabel("labels the model was trained on")
    ax.set_ylabel("score on the labels that came next")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure_data_uri(fig)


def class_balance(versions: Sequence[ModelVersion]) -> str | None:
    """Labelled count per class at each trained version, and the imbalance ratio on a second axis."""
    ready = [v for v in versions if v.status == "ready" and v.class_counts]
    if not ready:
        return None
    classes = sorted({c for v in ready for c in v.class_counts})
    n = [v.n_train for v in ready]
    fig = new_figure(9, 3.6, right=0.78)
    ax = fig.subplots()
    for c in classes:
        ax.plot(n, [v.class_counts.get(c, 0) for v in ready], marker=".", label=str(c))
    ratio = [max(v.class_counts.values()) / max(1, min(v.class_counts.get(c, 0) for c in classes)) for v in ready]
    twin = ax.twinx()
    twin.plot(n, ratio, color="black", linestyle=":", linewidth=1.5, label="imbalance ratio")
    twin.set_ylabel("imbalance ratio (largest / smallest)")
    ax.set_xlabel("labels at the model version")
    ax.set_ylabel("labelled per class")
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.1, 1.0), fontsize=8, ncols=1 + len(classes) // 16)
    return figure_data_uri(fig)


def per_class(per_class_scores: dict[str, dict[str, Any]], minority: str | None) -> str | None:
    """Prequential recall and precision per class; the minority class is marked."""
    classes = [c for c, s in per_class_scores.items() if s["support"] or s["precision"] is not None]
    if not classes:
        return None
    fig = new_figure(9, 3.4, right=0.85)
    fig.subplots_adjust(bottom=0.3 if len(classes) > 12 else 0.24)
    ax = fig.subplots()
    x = np.arange(len(classes))
    ax.bar(x - 0.2, [per_class_scores[c]["recall"] or 0.0 for c in classes], width=0.4, label="recall")
    ax.bar(x + 0.2, [per_class_scores[c]["precision"] or 0.0 for c in classes], width=0.4, label="precision")
    labels = [f"{c}\n(minority)" if c == minority else str(c) for c in classes]
    ax.set_xticks(x, labels, rotation=45 if len(classes) > 12 else 0, fontsize=8)
    ax.set_xlabel("class (prequential, every scored label)")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure_data_uri(fig)


def entropy_histogram(d: Diagnosis | None) -> str | None:
    if d is None or not len(d.entropy):
        return None
    fig = new_figure(6, 3)
    ax = fig.subplots()
    ax.hist(d.entropy, bins=30, range=(0.0, max(d.max_entropy, float(d.entropy.max()))), color="tab:orange")
    ax.axvline(d.max_entropy, color="black", linestyle=":", linewidth=1, label=f"maximum log(k) = {d.max_entropy:.2f}")
    ax.set_xlabel("predictive entropy (nats)")
    ax.set_ylabel(f"pool tasks (sample of {len(d.entropy)})")
    ax.legend(fontsize=8)
    return figure_data_uri(fig)


def embedding_map(d: Diagnosis | None) -> str | None:
    if d is None or "pool" not in d.points:
        return None
    fig = new_figure(6.5, 4.5, right=0.68)
    ax = fig.subplots()
    style = {"pool": ("lightgrey", 6, "unlabelled (sample)"), "labelled": ("tab:blue", 10, "labelled"),
             "queued": ("tab:red", 40, "queued next")}
    for name, (color, size, label) in style.items():
        if name in d.points and len(d.points[name]):
            xy = d.points[name]
            ax.scatter(xy[:, 0], xy[:, 1], s=size, c=color, label=f"{label} ({len(xy)})",
                       edgecolors="black" if name == "queued" else "none", linewidths=0.5)
    ax.set_xlabel(f"PC 1 ({d.explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({d.explained[1]:.0%} of variance)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure_data_uri(fig)
