"""Typed payloads of the Label Studio ML-backend protocol (as Label Studio 1.23 sends them).

Label Studio sends many more keys than we read; models ignore extras but validate what we use.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LSModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


def parse_project_ref(value: Any) -> int:
    """Label Studio sends ``"<id>.<created_at timestamp>"`` in setup/predict, an int elsewhere."""
    if isinstance(value, bool):
        raise ValueError("project must be an id, not a boolean")
    if isinstance(value, int):
        project_id = value
    elif isinstance(value, str) and value.strip():
        head = value.strip().split(".", 1)[0]
        if not head.isdigit():
            raise ValueError(f"project {value!r} is not '<id>' or '<id>.<timestamp>'")
        project_id = int(head)
    elif isinstance(value, dict) and isinstance(value.get("id"), int):
        project_id = int(value["id"])
    else:
        raise ValueError(f"project {value!r} is not '<id>' or '<id>.<timestamp>'")
    if project_id < 1 or project_id >= 2**63:
        raise ValueError(f"project id {project_id} is out of range")
    return project_id


# ------------------------------------------------------------------------------- /setup
class SetupRequest(LSModel):
    project: str | int
    schema_: str = Field(alias="schema")
    hostname: str | None = None
    access_token: str | None = None
    extra_params: dict[str, Any] | str | None = None

    @field_validator("project")
    @classmethod
    def _project(cls, value: Any) -> Any:
        parse_project_ref(value)
        return value

    @property
    def project_id(self) -> int:
        return parse_project_ref(self.project)


class SetupResponse(BaseModel):
    model_version: str


# ----------------------------------------------------------------------------- /predict
class LSTask(LSModel):
    id: int = Field(ge=1, lt=2**63)
    data: dict[str, Any]
    project: int | None = None


class PredictRequest(LSModel):
    tasks: list[LSTask]
    project: str | int | None = None
    label_config: str | None = None
    params: dict[str, Any] | None = None

    @field_validator("project")
    @classmethod
    def _project(cls, value: Any) -> Any:
        if value is not None:
            parse_project_ref(value)
        return value

    @property
    def project_id(self) -> int | None:
        if self.project is not None:
            return parse_project_ref(self.project)
        projects = {task.project for task in self.tasks if task.project is not None}
        return projects.pop() if len(projects) == 1 else None


class ChoiceValue(BaseModel):
    choices: list[str]


class ResultRegion(BaseModel):
    """One region of a prediction: ``value`` is the control's (choices; taxonomy paths, spans, boxes... as the
    project's task type writes them)."""

    from_name: str
    to_name: str
    type: str = "choices"
    value: ChoiceValue | dict[str, Any]
    score: float | None = None
    #: boxes: the image size the percentages refer to (Label Studio keeps them with the region)
    original_width: int | None = None
    original_height: int | None = None
    image_rotation: float | None = None


class TaskPrediction(BaseModel):
    model_version: str
    score: float | None = None
    result: list[ResultRegion] = Field(default_factory=list)


class PredictResponse(BaseModel):
    results: list[TaskPrediction]
    model_version: str


# ----------------------------------------------------------------------------- /webhook
class Action(StrEnum):
    ANNOTATION_CREATED = "ANNOTATION_CREATED"
    ANNOTATION_UPDATED = "ANNOTATION_UPDATED"
    ANNOTATIONS_CREATED = "ANNOTATIONS_CREATED"
    ANNOTATIONS_DELETED = "ANNOTATIONS_DELETED"
    START_TRAINING = "START_TRAINING"
    TASKS_CREATED = "TASKS_CREATED"  # imports, storage syncs, POST /api/tasks: ``tasks`` with their data
    TASKS_DELETED = "TASKS_DELETED"  # Data Manager delete, DELETE /api/tasks/{id}: ``tasks`` with ids only


HANDLED_ACTIONS = {a.value for a in Action}


class LSAnnotation(LSModel):
    id: int = Field(ge=1, lt=2**63)
    task: int | dict[str, Any] | None = None
    project: int | None = None
    result: list[dict[str, Any]] = Field(default_factory=list)
    was_cancelled: bool = False
    ground_truth: bool = False
    lead_time: float | None = None
    completed_by: int | dict[str, Any] | None = None

    def task_id(self, fallback: int | None) -> int:
        if isinstance(self.task, dict) and isinstance(self.task.get("id"), int):
            return int(self.task["id"])
        if isinstance(self.task, int):
            return self.task
        if fallback is not None:
            return fallback
        raise ValueError(f"annotation {self.id} does not say which task it belongs to")


class LSProjectRef(LSModel):
    id: int = Field(ge=1, lt=2**63)
    title: str | None = None
    label_config: str | None = None


class TaskRef(LSModel):
    id: int = Field(ge=1, lt=2**63)
    data: dict[str, Any] | None = None


class AnnotationIdRef(LSModel):
    id: int = Field(ge=1, lt=2**63)


class WebhookPayload(LSModel):
    """Any webhook; ``action`` decides which of the other fields must be present."""

    action: str = Field(min_length=1, max_length=100)
    project: LSProjectRef | None = None
    annotation: LSAnnotation | list[LSAnnotation] | None = None
    task: LSTask | list[LSTask] | None = None
    annotations: list[AnnotationIdRef] | None = None
    tasks: list[TaskRef] | None = None


class WebhookResponse(BaseModel):
    status: str
    action: str
    event_id: int | None = None


class HealthResponse(BaseModel):
    """Label Studio 1.23.2 reads only the HTTP status (any 2xx with a JSON body is healthy; ``MLApi._request``):
    a degraded backend still answers 200, and says why in the body."""

    status: str = "UP"  # UP | DEGRADED (events wait on Label Studio)
    model_class: str = "labelsieve"
    version: str
    projects: int
    queue_length: int
    page: str | None = None  # the live project pages (HTML), for people
    waiting_events: int = 0  # of projects whose events wait on Label Studio
    reason: str | None = None  # why they wait, with the URL tried and the fix
    waiting_projects: list[dict[str, Any]] = Field(default_factory=list)
    plugins_ready: bool = True  # false while learners and strategies still load in the background after start
    #: pools being encoded into the embedding store (service/embedding_job.py): project, model, encoded, total...
    embedding_jobs: list[dict[str, Any]] = Field(default_factory=list)
    #: first contacts syncing or failed (service/first_contact.py): project, state, tasks synced of total, pages...
    first_contacts: list[dict[str, Any]] = Field(default_factory=list)
    #: projects whose latest drift check found drift (quality/driftjob.py): project, reason, what to do
    drift: list[dict[str, Any]] = Field(default_factory=list)


class VersionsResponse(BaseModel):
    versions: list[str]
    model_version: str | None = None
