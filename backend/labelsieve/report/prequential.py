"""A live project's learning curve, estimated prequentially, and the labels projected to a target.

Prequential (test-then-train): when an annotation arrives, the webhook intake records what the
serving model predicted for that task *before* the model trains on it (``predicted_labels``). So
each batch of new labels scores the model that chose it, with no held-out set to spend labels on.
The projection fits an inverse power law ``acc(n) = a − b·n^(−c)`` (the usual learning-curve model)
to the per-version accuracies, weighted by how many labels scored each version. A fit that says
nothing (flat, on a bound, falling, a zero plateau) is reported as ``degenerate`` with the reason, never
``ok``; an ``ok`` projection carries a parametric-bootstrap 95% interval of the labels it projects.
Which scores are unbiased (a random audit) and their Wilson intervals: :mod:`labelsieve.report.estimates`.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel
from scipy.optimize import OptimizeWarning, curve_fit
from sklearn.metrics import f1_score
from sqlalchemy.engine import Engine

from labelsieve.balancing import imbalance_ratio
from labelsieve.report.estimates import degenerate_reason, live_accuracy, scored, wilson_interval
from labelsieve.service.status import project_history
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Annotation, ModelVersion, QueryRound

BOUNDS = ([0.0, 0.0, 0.01], [1.0, 100.0, 3.0])
N_BOOT = 40
MAX_EXTRAPOLATION = 50  # a projection past 50x the labels seen is not a projection


def prequential_points(annotations: Sequence[Annotation], versions: Sequence[ModelVersion]) -> list[dict[str, Any]]:
    """One point per model version: labels it was trained on, accuracy and macro-F1 on the labels that came next."""
    trained_on = {v.version: v.n_train for v in versions if v.status == "ready"}
    pairs: dict[str, list[tuple[str, str]]] = {}
    for ann in scored(annotations):
        pairs.setdefault(ann.predicted_version, []).append((ann.labels[0], ann.predicted_labels[0]))  # type: ignore[arg-type,index]
    points = []
    for v, got in pairs.items():
        if v not in trained_on:
            continue
        truth, predicted = [t for t, _ in got], [p for _, p in got]
        hits = sum(t == p for t, p in got)
        points.append({
            "model_version": v, "n_labels": trained_on[v], "accuracy": hits / len(got), "n_scored": len(got),
            "accuracy_ci": wilson_interval(hits, len(got)),
            "macro_f1": float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro",
                                       zero_division=0)),
        })
    return sorted(points, key=lambda p: p["n_labels"])


def per_class_scores(annotations: Sequence[Annotation]) -> dict[str, dict[str, float | int | None]]:
    """Prequential recall and precision per class over every scored label (support = labels of that class)."""
    tested = scored(annotations)
    classes = sorted({a.labels[0] for a in tested} | {a.predicted_labels[0] for a in tested})  # type: ignore[index]
    out: dict[str, dict[str, float | int | None]] = {}
    for c in classes:
        truth = [a for a in tested if a.labels[0] == c]
        called = [a for a in tested if a.predicted_labels[0] == c]  # type: ignore[index]
        tp = sum(a.predicted_labels[0] == c for a in truth)  # type: ignore[index]
        out[c] = {"support": len(truth), "recall": tp / len(truth) if truth else None,
                  "precision": tp / len(called) if called else None}
    return out


def _power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(n, -c)


def _fit(n: np.ndarray, acc: np.ndarray, sigma: np.ndarray, maxfev: int = 20000,
         p0: tuple[float, float, float] | None = None) -> tuple[float, float, float]:
    start = p0 if p0 is not None else (min(1.0, acc.max() + 0.05), 1.0, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # few points: no covariance; the fit itself is fine
        params, _ = curve_fit(_power_law, n, acc, p0=start, sigma=sigma, bounds=BOUNDS, maxfev=maxfev)
    return float(params[0]), float(params[1]), float(params[2])


def _needed(a: float, b: float, c: float, goal: float) -> float | None:
    return None if goal >= a or b <= 0 else float((b / (a - goal)) ** (1.0 / c))


def _bootstrap_needed(n: np.ndarray, acc: np.ndarray, k: np.ndarray, goal: float, fitted: tuple[float, float, float],
                      seed: int = 0) -> dict[str, Any]:
    """Parametric bootstrap: redraw each version's hits ~ Binomial(k, acc), refit (from the fit), project again."""
    rng = np.random.default_rng(seed)
    sigma = 1.0 / np.sqrt(k)
    needed: list[float] = []
    unreachable = 0
    for _ in range(N_BOOT):
        redrawn = rng.binomial(k.astype(np.int64), acc) / k
        try:
            start = (min(fitted[0], 1.0 - 1e-9), max(fitted[1], 1e-6), min(max(fitted[2], 0.011), 2.99))
            value = _needed(*_fit(n, redrawn, sigma, maxfev=400, p0=start), goal)
        except (RuntimeError, ValueError):
            value = None
        if value is None:
            unreachable += 1
        else:
            needed.append(value)
    ci = [int(np.ceil(x)) for x in np.percentile(needed, [2.5, 97.5])] if len(needed) >= N_BOOT // 2 else None
    return {"labels_to_target_ci": ci, "bootstrap_unreachable": unreachable / N_BOOT, "n_boot": N_BOOT}


def project_labels(points: Sequence[dict[str, Any]], *, target: float | None = None,
                   target_fraction: float = 0.95) -> dict[str, Any]:
    """Fit the power law; labels needed for ``target`` accuracy (default ``target_fraction`` × plateau)."""
    usable = tuple((p["n_labels"], p["accuracy"], p["n_scored"]) for p in points if p["n_labels"] > 0)
    if len(usable) < 3:
        return {"status": "insufficient", "reason": f"{len(usable)} scored model version(s); the fit needs 3"}
    return dict(_project(usable, target, target_fraction))  # a copy: callers may add keys


@lru_cache(maxsize=256)
def _project(usable: tuple[tuple[int, float, int], ...], target: float | None,
             target_fraction: float) -> dict[str, Any]:
    """The fit and its bootstrap, memoised: the same scores (a page reload, a report poll) fit once."""
    n = np.array([u[0] for u in usable], dtype=np.float64)
    acc = np.array([u[1] for u in usable], dtype=np.float64)
    k = np.array([u[2] for u in usable], dtype=np.float64)
    try:
        a, b, c = _fit(n, acc, 1.0 / np.sqrt(k))
    except (RuntimeError, ValueError) as exc:
        return {"status": "failed", "reason": f"the learning-curve fit did not converge ({exc})"}
    fitted: dict[str, Any] = {"model": "a - b * n^(-c)", "plateau": a, "b": b, "c": c, "labelled_now": int(n.max())}
    reason = degenerate_reason(n, acc, (a, b, c), BOUNDS)
    if reason is not None:
        return {"status": "degenerate", "reason": reason, **fitted, "labels_to_target": None}
    if target is None and a >= BOUNDS[1][0] - 1e-6:
        return {"status": "degenerate", **fitted, "labels_to_target": None,
                "reason": "the fitted plateau sits on its bound 1.0: the scores do not say where the curve levels "
                          "off, so a target relative to it means nothing (pass an absolute target)"}
    goal = float(target) if target is not None else target_fraction * a
    result: dict[str, Any] = {"status": "ok", **fitted, "target_accuracy": goal}
    needed = _needed(a, b, c, goal)
    if needed is None:
        return result | {"labels_to_target": None, "reason": "the target is at or above the fitted plateau"}
    if needed > MAX_EXTRAPOLATION * n.max():
        return {"status": "degenerate", **fitted, "target_accuracy": goal, "labels_to_target": None,
                "reason": f"the fit reaches {goal:.3f} only past {MAX_EXTRAPOLATION}x the {int(n.max())} labels seen"}
    result |= {"labels_to_target": int(np.ceil(needed)),
               "more_labels_needed": max(0, int(np.ceil(needed)) - int(n.max()))}
    return result | _bootstrap_needed(n, acc, k, goal, (a, b, c))


def live_report(annotations: Sequence[Annotation], versions: Sequence[ModelVersion], *,
                rounds: Sequence[QueryRound] = (), target: float | None = None,
                target_fraction: float = 0.95) -> dict[str, Any]:
    points = prequential_points(annotations, versions)
    estimate = live_accuracy(annotations, rounds)
    labels = [a.labels[0] for a in annotations if a.labels and not a.was_cancelled]
    counts = dict(sorted(Counter(labels).items()))
    ratio = imbalance_ratio(labels) if labels else None
    return {
        "estimation": "prequential", "labeled": len(labels), "n_scored": estimate["n_scored"],
        "accuracy": estimate["value"], "accuracy_estimate": estimate,
        "class_counts": counts, "imbalance_ratio": ratio, "per_class": per_class_scores(annotations),
        "curve": points, "projection": project_labels(points, target=target, target_fraction=target_fraction),
    }


class ProjectReport(BaseModel):
    """``GET /projects/{id}/report``: :func:`live_report` of the project, its serving version and its rounds."""

    project_id: int
    model_version: str | None
    estimation: str
    labeled: int
    n_scored: int
    accuracy: float | None
    #: how the accuracy was estimated (random audit or the biased chosen items), with its interval
    accuracy_estimate: dict[str, Any]
    class_counts: dict[str, int]
    imbalance_ratio: float | None
    per_class: dict[str, Any] | list[Any] | None = None
    curve: list[dict[str, Any]]
    projection: dict[str, Any]
    rounds: list[dict[str, Any]]


def project_report(engine: Engine, project_id: int, *, target: float | None = None,
                   target_fraction: float = 0.95) -> ProjectReport | None:
    """The live report of a project (None when it is not set up)."""
    with session_scope(engine) as session:
        history = project_history(session, project_id)
        annotations = crud.list_annotations(session=session, project_id=project_id) if history else []
    if history is None:
        return None
    project, versions, rounds = history
    report = live_report(annotations, versions, rounds=rounds, target=target, target_fraction=target_fraction)
    return ProjectReport(
        project_id=project_id, model_version=project.model_version or None, **report,
        rounds=[{"model_version": r.model_version, "strategy": r.strategy, "n_labeled": r.n_labeled,
                 "select_seconds": r.select_seconds, "audit": list(r.audit)} for r in rounds],
    )
