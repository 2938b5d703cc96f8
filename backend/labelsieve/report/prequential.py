"""A live project's learning curve, estimated prequentially, and the labels projected to a target.

Prequential (test-then-train): when an annotation arrives, the webhook intake records what the
serving model predicted for that task *before* the model trains on it (``predicted_labels``). So
each batch of new labels scores the model that chose it, with no held-out set to spend labels on.
The projection fits an inverse power law ``acc(n) = a − b·n^(−c)`` (the usual learning-curve model)
to the per-version accuracies, weighted by how many labels scored each version.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from labelsieve.balancing import imbalance_ratio
from labelsieve.service.status import project_history
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Annotation, ModelVersion


def prequential_points(annotations: Sequence[Annotation], versions: Sequence[ModelVersion]) -> list[dict[str, Any]]:
    """One point per model version: labels it was trained on, accuracy on the labels that came next."""
    trained_on = {v.version: v.n_train for v in versions if v.status == "ready"}
    hits: dict[str, list[bool]] = {}
    for ann in annotations:
        if ann.was_cancelled or not ann.labels or not ann.predicted_labels or ann.predicted_version is None:
            continue
        hits.setdefault(ann.predicted_version, []).append(ann.predicted_labels[0] == ann.labels[0])
    points = [{"model_version": v, "n_labels": trained_on[v], "accuracy": float(np.mean(h)), "n_scored": len(h)}
              for v, h in hits.items() if v in trained_on]
    return sorted(points, key=lambda p: p["n_labels"])


def _power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(n, -c)


def project_labels(points: Sequence[dict[str, Any]], *, target: float | None = None,
                   target_fraction: float = 0.95) -> dict[str, Any]:
    """Fit the power law; labels needed for ``target`` accuracy (default ``target_fraction`` × plateau)."""
    usable = [p for p in points if p["n_labels"] > 0]
    if len(usable) < 3:
        return {"status": "insufficient", "reason": f"{len(usable)} scored model version(s); the fit needs 3"}
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.array([p["n_labels"] for p in usable], dtype=np.float64)
    acc = np.array([p["accuracy"] for p in usable], dtype=np.float64)
    sigma = 1.0 / np.sqrt(np.array([p["n_scored"] for p in usable], dtype=np.float64))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # few points: no covariance; the fit itself is fine
            (a, b, c), _ = curve_fit(_power_law, n, acc, p0=(min(1.0, acc.max() + 0.05), 1.0, 0.5), sigma=sigma,
                                     bounds=([0.0, 0.0, 0.01], [1.0, 100.0, 3.0]), maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        return {"status": "failed", "reason": f"the learning-curve fit did not converge ({exc})"}
    goal = float(target) if target is not None else target_fraction * float(a)
    result: dict[str, Any] = {"status": "ok", "model": "a - b * n^(-c)", "plateau": float(a), "b": float(b),
                              "c": float(c), "target_accuracy": goal, "labelled_now": int(n.max())}
    if goal >= a or b <= 0:
        result |= {"labels_to_target": None, "reason": "the target is at or above the fitted plateau"}
        return result
    needed = float((b / (a - goal)) ** (1.0 / c))
    result |= {"labels_to_target": int(np.ceil(needed)),
               "more_labels_needed": max(0, int(np.ceil(needed)) - int(n.max()))}
    return result


def live_report(annotations: Sequence[Annotation], versions: Sequence[ModelVersion], *,
                target: float | None = None, target_fraction: float = 0.95) -> dict[str, Any]:
    points = prequential_points(annotations, versions)
    scored = sum(p["n_scored"] for p in points)
    overall = float(sum(p["accuracy"] * p["n_scored"] for p in points) / scored) if scored else None
    labels = [a.labels[0] for a in annotations if a.labels and not a.was_cancelled]
    counts = dict(sorted(Counter(labels).items()))
    ratio = imbalance_ratio(labels) if labels else None
    return {
        "estimation": "prequential", "labeled": len(labels), "n_scored": scored, "accuracy": overall,
        "class_counts": counts, "imbalance_ratio": ratio,
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
    class_counts: dict[str, int]
    imbalance_ratio: float | None
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
    report = live_report(annotations, versions, target=target, target_fraction=target_fraction)
    return ProjectReport(
        project_id=project_id, model_version=project.model_version or None, **report,
        rounds=[{"model_version": r.model_version, "strategy": r.strategy, "n_labeled": r.n_labeled,
                 "select_seconds": r.select_seconds} for r in rounds],
    )
