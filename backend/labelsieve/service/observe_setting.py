"""The ``observe`` project setting (observer mode): which other model version(s) a project ranks from.

``"auto"`` reads the newest model version not written by labelsieve (the one whose newest prediction has the
highest id); ``"yolo-v8"`` or ``"yolo-v8, yolo-v8.1"`` read those versions only (a task's newest prediction among
them). Observer mode serves the task types whose stored predictions carry a score per region that ranks the task
(:data:`OBSERVABLE_TASK_TYPES`); see docs/observer-mode.md.
"""

from __future__ import annotations

from typing import Any

from labelsieve.labelstudio.observed import OWN_PREFIX

AUTO = "auto"
#: task type name -> what its observer ranking reads
OBSERVABLE_TASK_TYPES = {
    "boxes": "per-box score of <RectangleLabels> regions (binary entropy, summed per image)",
    "single_label": "the score of the <Choices> region, else the prediction's score (least confidence: 1 - score)",
}


def observed_versions(value: str) -> tuple[str, ...]:
    """The model versions named by the setting (empty for ``"auto"``)."""
    if value.strip() == AUTO:
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def check_observe(value: str, task_type: Any | None) -> None:
    """Raise ValueError naming the problem: an empty name, one of labelsieve's own versions, a task type that
    observer mode does not serve."""
    if not value.strip():
        raise ValueError('observe must name a model version (e.g. "yolo-v8"), several comma-separated, or "auto"; '
                         "null turns observer mode off")
    own = [v for v in observed_versions(value) if v.startswith(OWN_PREFIX)]
    if own:
        raise ValueError(f"observe names labelsieve's own prediction version(s) {own}: observer mode reads another "
                         "backend's predictions")
    name = getattr(task_type, "name", "single_label")
    if name not in OBSERVABLE_TASK_TYPES:
        raise ValueError(f"observer mode serves task type(s) {sorted(OBSERVABLE_TASK_TYPES)}, not {name!r}; set "
                         "observe to null to train labelsieve's own model")
