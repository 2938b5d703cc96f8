"""The 5-fold estimate of one model version, run by the data-quality thread and kept in the version's metrics.

``ModelVersion.metrics["cv_estimate"]`` holds the result with the version it belongs to, when it was computed and
on how many labels; the project status shows the newest one. When the labelled set and the recipe are the same as
the previous estimate's (a forced retrain on unchanged labels), the previous result is copied, not recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from labelsieve.quality.cvestimate import cross_validate, recipe_fit
from labelsieve.quality.host import QualityHost, fingerprint, stop_between_fits
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion

log = logging.getLogger(__name__)
KEY = "cv_estimate"


def _previous(host: QualityHost, project_id: int, mark: str) -> dict[str, Any] | None:
    with session_scope(host.engine) as session:
        versions = crud.list_model_versions(session=session, project_id=project_id)
    for v in reversed(versions):
        found = (v.metrics or {}).get(KEY)
        if found and found.get("fingerprint") == mark:
            return found
    return None


def _record(host: QualityHost, project_id: int, version: str, estimate: dict[str, Any]) -> None:
    with session_scope(host.engine) as session:
        row = session.exec(select(ModelVersion).where(ModelVersion.project_id == project_id,
                                                      ModelVersion.version == version)).first()
        if row is not None:
            row.metrics = {**(row.metrics or {}), KEY: estimate}
            session.add(row)


def estimate_version(host: QualityHost, project: Any, version: str, ps: Any,
                     stopped: Callable[[], bool] | None = None) -> dict[str, Any] | None:
    """Compute (or reuse) and store the estimate of the serving ``version``; None when it is not serving or the
    project's ``cv_estimate`` setting is off. Once ``stopped()`` is true, the next fold raises
    :class:`~labelsieve.quality.host.PassStopped` instead of fitting."""
    if not ps.cv_estimate:
        return None
    if callable(getattr(host.config_of(project), "annotation_labels", None)):  # a region task type (spans, boxes):
        return None  # one class per task does not exist to cross-validate
    served = host.serving_model(project)
    if served is None or served[0] != version:
        return None
    with session_scope(host.engine) as session:
        examples = crud.labeled_examples(session=session, project_id=project.id)
    recipe = {"learner": ps.learner, "params": ps.learner_params, "seed": ps.seed, "balancing": ps.balancing,
              "balancing_params": ps.balancing_params, "max_labels": ps.cv_max_labels, "kind": KEY}
    mark = fingerprint(examples, recipe)
    previous = _previous(host, project.id, mark)
    if previous is not None:
        estimate = {**previous, "version": version, "reused_from": previous.get("reused_from", previous["version"])}
    else:
        learner = served[1]
        loaded = host.input_loader(project, learner.input_kind).load([task.data for task, _ in examples])
        labels = [examples[i][1].labels[0] for i in loaded.positions]
        create = stop_between_fits(lambda params: host.registries.learners.create(ps.learner, params), stopped)
        fit = recipe_fit(create, ps.learner_params, ps.balancing, ps.balancing_params, ps.learner, ps.seed)
        estimate = cross_validate(loaded.inputs, labels, fit=fit, seed=ps.seed, max_labels=ps.cv_max_labels)
        estimate |= {"version": version, "fingerprint": mark, "computed_at": datetime.now(UTC).isoformat(),
                     "balancing": ps.balancing, "synthesis_left_out": bool(ps.balancing)}
    _record(host, project.id, version, estimate)
    log.info("project %s %s: 5-fold estimate %s on %s labels", project.id, version, estimate.get("status"),
             estimate.get("n_labels"))
    return estimate


def latest_estimate(versions: list[ModelVersion], serving: str | None, n_labels: int) -> dict[str, Any] | None:
    """The newest stored estimate for the project status, with whether it belongs to the serving version and how
    many labels arrived since (the next one is computed in the background after the next retrain)."""
    for v in reversed(versions):
        found = (v.metrics or {}).get(KEY)
        if found:
            shown = {k: value for k, value in found.items() if k != "fingerprint"}
            return {**shown, "serving": found.get("version") == serving,
                    "labels_since": max(0, n_labels - int(found.get("n_labels", 0))),
                    "method": f"stratified {found.get('folds', 5)}-fold cross-validation of the learner recipe on "
                              "the labelled set (labels the strategy chose: pessimistic for a random item)"}
    return None
