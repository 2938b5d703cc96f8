"""SQLModel tables: labelsieve's own copy of each project's tasks, annotations and models.

Ids of projects, tasks and annotations are Label Studio's ids, so a webhook and a pull from
Label Studio upsert the same rows. JSON columns hold Label Studio payload fragments as given.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Project(SQLModel, table=True):
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    title: str = ""
    label_config: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Current serving model version ("" until the first successful retrain).
    model_version: str = ""
    # Per-project settings from Label Studio's extra_params (strategy, learner, batch size...).
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Label Studio connection seen in /setup (hostname, access_token), used when no global key.
    ls_hostname: str = ""
    ls_access_token: str = ""
    annotations_since_train: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Annotation(SQLModel, table=True):
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    task_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    result: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The labels our control's choices give (derived from result with the project's config).
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    annotator: int | None = None
    lead_time: float | None = None
    was_cancelled: bool = False
    ground_truth: bool = False
    # Prequential bookkeeping: what the serving model predicted for this task when the label came.
    predicted_labels: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    predicted_version: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ModelVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    version: str
    number: int
    learner: str
    learner_params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "ready"  # ready | failed
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    n_train: int = 0
    class_counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    artifact: str = ""
    train_seconds: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class QueryRound(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    model_version: str
    strategy: str
    strategy_params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    n_pool: int = 0
    n_labeled: int = 0
    batch: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Tasks placed in the batch uniformly at random (the project's audit_share): unbiased accuracy estimates.
    audit: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    select_seconds: float = 0.0
    pushed: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Prediction(SQLModel, table=True):
    """The serving model's view of one task: predicted labels, LS score (rank-encoded), rank."""

    __table_args__ = (
        UniqueConstraint("task_id", "model_version"),
        Index("ix_prediction_project_version", "project_id", "model_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    task_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    model_version: str
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confidence: float = 0.0
    score: float = 0.0  # what Label Studio sees: lower = label sooner
    rank: int | None = None
    utility: float | None = None  # the strategy's own score (higher = label sooner)
    cluster: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class RejectedRegion(SQLModel, table=True):
    """A region of a stored annotation its project's task type refuses (span offsets that miss the text, a box
    outside the image, an unknown label...), and why. The annotation is stored whole; training leaves these out."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    annotation_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    task_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    region: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class WebhookEvent(SQLModel, table=True):
    """Inbox: every acknowledged webhook is stored here first, then applied by the worker."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    action: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SyntheticSample(SQLModel, table=True):
    """A generated training image (diffusion synthesis): always synthetic, never an Annotation.

    Kept apart from tasks and annotations so it is never sent to Label Studio, never served by
    ``/predict`` and never counted as a label; only the retrain that made it trains on it.
    """

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(BigInteger, index=True, nullable=False))
    model_version: str = ""
    label: str
    synthesizer: str  # the labelsieve.synthesizers entry point that generated it (origin)
    quality: float | None = None  # the quality gate's confidence for the intended class
    artifact: str = ""  # path of the PNG file
    synthetic: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ObservedProject(SQLModel, table=True):
    """Observer mode's read position in one project (:mod:`labelsieve.labelstudio.observed`) and its last round's
    summary (the status's ``observer``). One small row per observing project, rewritten every round."""

    project_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    max_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    watermark: str | None = None  # the newest ``updated_at`` Label Studio listed
    settled: bool = False
    round: int = 0  # observer rounds that pushed a ranking
    pushed_key: str | None = None
    status: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow)


class ObservedTask(SQLModel, table=True):
    """What observer mode's reads saw of one task: whether Label Studio counts it labelled, and per model version
    not written by labelsieve its newest prediction and their count. A read writes only the rows that changed."""

    project_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    task_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    labeled: bool = False
    #: version -> {"id", "n", "score", "result"} (:func:`labelsieve.labelstudio.observed.task_entry`)
    versions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
