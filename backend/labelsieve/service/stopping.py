"""The stopping signal in the service: each new version predicts the project's fixed stop set, stored beside it.

The stop set is drawn once (seeded by the project and its ``seed`` setting) from the unlabelled pool when the
first version is trained, and read back from the earliest version that holds it afterwards, so it never moves.
Its tasks that get labelled later are still predicted (their inputs are loaded for training anyway). Each version
stores ``metrics["stop_set"] = {"ids", "labels", "threshold", "window"}``; the status and the simulation report
compute the kappas from those rows alone: O(stop set) per version, no model is loaded.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlmodel import Session

from labelsieve.labelconfig import NO_REGION
from labelsieve.quality.stopping import KEY, STOP_MESSAGE, StopRule, choose_stop_set, kappa_series
from labelsieve.service.pool_inputs import PoolInputs
from labelsieve.settings import ProjectSettings
from labelsieve.storage import crud
from labelsieve.storage.models import ModelVersion


class StoppingStatus(BaseModel):
    stop: bool
    message: str
    kappas: list[float]  # the last `window` kappas between successive versions on the stop set
    threshold: float
    window: int
    stop_set_size: int


def stored_stop_set(versions: Sequence[ModelVersion]) -> list[int] | None:
    """The stop set's task ids, from the earliest version that recorded one."""
    for version in versions:
        record = (version.metrics or {}).get(KEY)
        if version.status == "ready" and record and record.get("ids"):
            return [int(t) for t in record["ids"]]
    return None


def stop_label(prediction: Any) -> str:
    """What a stop-set prediction is compared by: a class name as it is; a detector's boxes as the sorted classes
    of the boxes it shows (score >= 0.5), or ``NO_REGION``."""
    shown = getattr(prediction, "above", None)
    if callable(shown):
        return "|".join(sorted(set(shown(0.5).labels))) or NO_REGION
    return str(prediction)


def stop_set_record(*, session: Session, project_id: int, learner: Any, pool: PoolInputs, labeled: PoolInputs,
                    ps: ProjectSettings) -> dict[str, Any] | None:
    """The new version's predictions on the stop set (drawn now if the project has none yet); None when off."""
    if ps.stop_set_size <= 0:
        return None
    ids = stored_stop_set(crud.list_model_versions(session=session, project_id=project_id))
    if ids is None:
        rng = np.random.default_rng(zlib.crc32(f"{project_id}:stop_set:{ps.seed}".encode()))
        ids = choose_stop_set([int(t) for t in pool.ids], ps.stop_set_size, rng)
    inputs = {int(t): x for t, x in zip(pool.ids, pool.inputs, strict=True)}
    inputs.update({int(t): x for t, x in zip(labeled.ids, labeled.inputs, strict=True)})
    present = [t for t in ids if t in inputs]
    labels = list(learner.predict([inputs[t] for t in present])) if present else []
    return {"ids": present, "labels": [stop_label(label) for label in labels], "threshold": float(ps.stop_kappa),
            "window": int(ps.stop_window)}


def stopping_status(versions: Sequence[ModelVersion]) -> StoppingStatus | None:
    """Whether the stop signal fires, from the stored stop-set predictions (None before any version has them)."""
    records = [(v.metrics or {}).get(KEY) for v in versions if v.status == "ready"]
    records = [r for r in records if r]
    if not records:
        return None
    last = records[-1]
    rule = StopRule(threshold=float(last.get("threshold", 0.99)), window=int(last.get("window", 3)))
    kappas = kappa_series(records)
    recent = [round(k, 4) for k in kappas[-rule.window:]]
    shown = ", ".join(f"{k:.3f}" for k in recent) or "none yet"
    detail = (f"Cohen's kappa between successive models' predictions on a fixed stop set of {len(last['ids'])} "
              f"tasks: {shown} (stop when the mean of the last {rule.window} is at least {rule.threshold})")
    if rule.fired(kappas):
        message = f"{STOP_MESSAGE}. {detail}"
    else:
        message = f"the model is still changing: keep labelling. {detail}"
    return StoppingStatus(stop=rule.fired(kappas), message=message, kappas=recent, threshold=rule.threshold,
                          window=rule.window, stop_set_size=len(last["ids"]))
