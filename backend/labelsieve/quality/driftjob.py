"""Drift checks of one model version, run by the data-quality thread after each retrain, kept in the version's
metrics (``ModelVersion.metrics["drift"]``); the project status, ``/health``, the Prometheus gauges and the page
show the newest.

- New tasks: those labelsieve received (``Task.created_at``: TASKS_CREATED batches, imports, /predict calls)
  since the previous check, against the tasks it had before, on the serving learner's features (``embed``).
  The reference is every earlier task, not the labelled set alone: active learning chose the labelled items, so
  they differ from the pool by design and a test against them would report the strategy's own selection as drift.
  The first check of a project has no "before": too few to tell.
- The prequential accuracy stream: every label that came while a model served, in labelling order.

A WARNING is logged once per change: for each new batch found shifted, and for each accuracy drop at a label
the previous check had not reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import select

from labelsieve.quality.drift import MAX_ITEMS, accuracy_changes, drift_block, mmd_test
from labelsieve.quality.host import QualityHost, raise_if_stopped
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion, Task, utcnow

log = logging.getLogger(__name__)
KEY = "drift"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def latest_drift(versions: list[ModelVersion]) -> dict[str, Any] | None:
    for v in reversed(versions):
        found = (v.metrics or {}).get(KEY)
        if found:
            return dict(found)
    return None


def project_drift(engine: Engine, project_id: int) -> dict[str, Any] | None:
    with session_scope(engine) as session:
        return latest_drift(crud.list_model_versions(session=session, project_id=project_id))


def drift_alerts(engine: Engine, project_ids: list[int]) -> list[dict[str, Any]]:
    """Projects whose latest check found drift, for ``/health``."""
    out = []
    for project_id in project_ids:
        found = project_drift(engine, project_id)
        if found and found.get("detected"):
            parts = [p.get("reason") for p in (found.get("features"), found.get("accuracy")) if p and p.get("detected")]
            out.append({"project": project_id, "version": found.get("version"), "reason": "; ".join(parts),
                        "advice": found.get("advice")})
    return out


def _embed(host: QualityHost, project: Any, learner: Any, ids: list[int]) -> np.ndarray:
    with session_scope(host.engine) as session:
        tasks = crud.get_tasks(session=session, task_ids=ids)
    loaded = host.input_loader(project, learner.input_kind).load([tasks[i].data for i in ids if i in tasks])
    if not loaded.inputs:
        return np.zeros((0, 1))
    return np.asarray(learner.embed(loaded.inputs), dtype=np.float64)


def feature_check(host: QualityHost, project: Any, learner: Any, since: datetime | None,
                  rng: np.random.Generator) -> dict[str, Any]:
    if since is None:
        return {"detected": None, "reason": "too few to tell: the first check has no earlier tasks to compare "
                "with; the next retrain compares the tasks that arrive until then"}
    with session_scope(host.engine) as session:
        stamps = session.exec(select(Task.id, Task.created_at).where(Task.project_id == project.id)).all()
    new = [int(i) for i, at in stamps if _aware(at) > since]
    old = [int(i) for i, at in stamps if _aware(at) <= since]
    pick = [sorted(rng.choice(ids, min(len(ids), MAX_ITEMS), replace=False).tolist()) if ids else []
            for ids in (old, new)]
    result = mmd_test(_embed(host, project, learner, pick[0]), _embed(host, project, learner, pick[1]), rng=rng)
    return {**result, "since": since.isoformat(), "n_new_tasks": len(new), "n_earlier_tasks": len(old),
            "sampled": bool(len(new) > MAX_ITEMS or len(old) > MAX_ITEMS)}


def prequential_stream(engine: Engine, project_id: int) -> list[bool]:
    with session_scope(engine) as session:
        examples = crud.labeled_examples(session=session, project_id=project_id)
    scored = sorted((int(a.id), a.predicted_labels[0] == a.labels[0]) for _, a in examples
                    if a.predicted_version and a.predicted_labels and a.labels)
    return [hit for _, hit in scored]


def _warn(project_id: int, block: dict[str, Any], previous: dict[str, Any] | None) -> None:
    features, accuracy = block.get("features") or {}, block.get("accuracy") or {}
    advice = ("label a uniform random sample of the new tasks (project setting audit_share, e.g. 0.2) so the "
              "model and its accuracy estimate catch up")
    if features.get("detected"):
        log.warning("project %s: drift in the new tasks (%s new since %s, MMD² %.4f, p=%.4f): %s", project_id,
                    features.get("n_new_tasks"), features.get("since"), features.get("mmd2"),
                    features.get("p_value"), advice)
    if accuracy.get("detected"):
        latest = accuracy["changes"][-1]
        before = ((previous or {}).get("accuracy") or {}).get("changes") or []
        if not before or before[-1].get("at_label") != latest["at_label"]:
            log.warning("project %s: prequential accuracy fell from %.2f to %.2f at label %s: %s", project_id,
                        latest["before"], latest["after"], latest["at_label"], advice)


def drift_version(host: QualityHost, project: Any, version: str, ps: Any,
                  stopped: Callable[[], bool] | None = None) -> dict[str, Any] | None:
    """Check and store the drift of the serving ``version``; None when it is not serving. Once ``stopped()`` is
    true it raises :class:`~labelsieve.quality.host.PassStopped` before the embedding pass."""
    served = host.serving_model(project)
    if served is None or served[0] != version:
        return None
    raise_if_stopped(stopped)
    with session_scope(host.engine) as session:
        versions = crud.list_model_versions(session=session, project_id=project.id)
    previous = latest_drift([v for v in versions if v.version != version])
    since = datetime.fromisoformat(previous["checked_at"]) if previous and previous.get("checked_at") else None
    checked_at = utcnow()
    rng = np.random.default_rng([int(project.id), len(versions), int(ps.seed)])
    features = feature_check(host, project, served[1], since, rng)
    accuracy = accuracy_changes(prequential_stream(host.engine, project.id))
    block = {**drift_block(features, accuracy), "version": version, "checked_at": checked_at.isoformat()}
    _warn(project.id, block, previous)
    with session_scope(host.engine) as session:
        row = session.exec(select(ModelVersion).where(ModelVersion.project_id == project.id,
                                                      ModelVersion.version == version)).first()
        if row is not None:
            row.metrics = {**(row.metrics or {}), KEY: block}
            session.add(row)
    return block
