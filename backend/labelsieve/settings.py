"""Service settings, read from the environment (``LABELSIEVE_*``) or passed in by tests.

Label Studio's own names are honoured too (``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``,
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``) so a backend configured for the official
label-studio-ml-backend works unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_type_hints

from pydantic import AliasChoices, Field, create_model, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def free_cpu_count() -> int:
    """Cores this process may really use (affinity-aware), never less than 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def default_torch_threads() -> int:
    """Training threads: every usable core but one, which stays free for serving webhooks and /predict.

    Measured on 2 cores (500 digits, image CNN): idle, 2 threads 11.8 s vs 1 thread 16.2 s; with one other busy
    process, 2 threads 40.4 s vs 1 thread 14.2 s (and 152 s under heavier load). Oversubscription costs far more
    than a spare core."""
    return max(1, free_cpu_count() - 1)


def setting(default: Any, doc: str, *, service_name: str | None = None, minimum: int | None = None,
            choices: tuple[Any, ...] | None = None) -> Any:
    """One per-project setting: its default, what it means, the service-wide default's name in
    :class:`Settings` (``LABELSIEVE_<NAME>``, the key itself unless given) and, for integers, the minimum."""
    meta = {"doc": doc, "service_name": service_name, "minimum": minimum, "choices": choices}
    if isinstance(default, dict | list):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class ProjectSettings:
    """The per-project settings, declared once: a project's ``extra_params`` keys are these field names, each
    over a service-wide default in :class:`Settings` derived from the field. Adding a setting is adding a field."""

    strategy: str = setting("margin", "query strategy name (`labelsieve strategies` lists them)",
                            service_name="default_strategy")
    strategy_params: dict[str, Any] = setting({}, "keyword parameters of the strategy",
                                              service_name="default_strategy_params")
    learner: str = setting("auto", "learner name; auto: auto_image or text from the label config",
                           service_name="default_learner")
    learner_params: dict[str, Any] = setting({}, "keyword parameters of the learner",
                                             service_name="default_learner_params")
    batch_size: int = setting(10, "size of the batch-aware head of the ranking", minimum=1)
    retrain_every: int = setting(1, "retrain after this many new annotations", minimum=1)
    min_annotations: int = setting(2, "no model before this many labelled tasks", minimum=1)
    seed: int = setting(0, "seeds every random choice of the project's rounds")
    balancing: str | None = setting(None, "minority-class balancing method, or null")
    balancing_params: dict[str, Any] = setting({}, "parameters of the balancing method")
    queue_depth: int | None = setting(
        100, 'ranked tasks given a current prediction in Label Studio after each round (refilled between '
        'retrains); "all" (or null): every ranked task', minimum=1)
    preannotate_threshold: float = setting(
        0.8, "a prediction carries its answer pre-ticked only when the project's estimated accuracy and the "
        "task's confidence are above this (storage/preannotation.py); else the score alone; 0: always")
    audit_share: float = setting(0.0, "share (0 to 0.5) of each batch drawn uniformly at random from the pool and "
                                 "scored for an unbiased live accuracy estimate; 0: off")
    stop_set_size: int = setting(500, "tasks drawn once from the unlabelled pool that every model predicts, for the "
                                 "stopping signal (quality/stopping.py); 0: off", minimum=0)
    stop_kappa: float = setting(0.99, "stop signal: mean Cohen's kappa of successive models on the stop set")
    stop_window: int = setting(3, "stop signal: over this many successive model pairs", minimum=1)
    label_issues: bool = setting(True, "label-issue candidates, item values and review predictions after each "
                                 "retrain (labelsieve.quality)")
    prune: str | dict[str, Any] = setting(
        "off", 'off; "flagged": train without the items the latest scorecard marks prune; {"keep_top": 0.85}: train '
        "on the top 85% of the scored labelled items by the scorecard's value (nothing is deleted; it lowered "
        "accuracy on clean labels: benchmarks/results/pruning.md)")
    cv_estimate: bool = setting(True, "stratified 5-fold per-class recall/precision and macro-F1 of the learner "
                                "recipe on the labels, in the background after each retrain (project status)")
    cv_max_labels: int = setting(2000, "the 5-fold estimate uses a stratified subsample of at most this many labels",
                                 minimum=50)
    embedding_budget: int = setting(
        1000, "a round encodes at most this many texts the embedding store lacks; beyond it, that round ranks with "
        "TF-IDF and the pool is encoded in the background, then a retrain switches to embeddings "
        "(service/embedding_job.py); 0: every text is encoded in the background", minimum=0)

    observe: str | None = setting(
        None, 'observer mode: train nothing, rank the tasks from another ML backend\'s stored predictions and their '
        'per-region scores (service/observer.py): the model version(s) to read, comma-separated (e.g. "yolo-v8"), '
        'or "auto" (the newest version not written by labelsieve); null: off (labelsieve trains its own model)')
    observe_poll_seconds: int = setting(
        60, "observer mode: read the observed predictions again this often (seconds; Label Studio sends no webhook "
        "when a prediction is stored); annotations start a round at once; 0: only on annotations and Start "
        "Training", minimum=0)

    device: str = setting(
        "auto", "torch device of the CNN, the image encoders, the diffusion synthesizers and the distance kernels: "
        "auto (CUDA when there is one), cpu, cuda or cuda:<n> (labelsieve/devices.py)")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROJECT_FIELDS: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(ProjectSettings)
PROJECT_TYPES: dict[str, Any] = get_type_hints(ProjectSettings)


def service_name(field: dataclasses.Field[Any]) -> str:
    """The :class:`Settings` attribute holding the service-wide default of a per-project setting."""
    return field.metadata["service_name"] or field.name


def _project_defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in PROJECT_FIELDS:
        if f.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=f.default_factory, description=f.metadata["doc"])
        else:
            default = Field(default=f.default, description=f.metadata["doc"])
        out[service_name(f)] = (PROJECT_TYPES[f.name], default)
    return out


#: the service-wide defaults of the per-project settings (``LABELSIEVE_DEFAULT_STRATEGY``, ``LABELSIEVE_BATCH_SIZE``...)
ProjectDefaults: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "ProjectDefaults", __base__=BaseSettings, **_project_defaults())


class Settings(ProjectDefaults):  # type: ignore[valid-type,misc]
    """Everything the service needs; one instance per app (no import-time singletons)."""

    model_config = SettingsConfigDict(env_prefix="LABELSIEVE_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 9090
    data_dir: Path = Path("data")
    database_url: str | None = None
    model_dir: Path | None = None
    log_level: str = "INFO"
    # Upgrade the database schema (Alembic) on start; false: refuse an old schema, `labelsieve db upgrade` does it.
    migrate_on_start: bool = True
    # SQLite commit durability: FULL survives power loss (an fsync per commit), NORMAL only a crash of the process.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"

    # Label Studio connection (the names Label Studio users already know).
    label_studio_url: str | None = Field(
        default=None, validation_alias=AliasChoices("LABELSIEVE_LABEL_STUDIO_URL", "LABEL_STUDIO_URL")
    )
    label_studio_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LABELSIEVE_LABEL_STUDIO_API_KEY", "LABEL_STUDIO_API_KEY"),
    )
    local_files_document_root: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "LABELSIEVE_LOCAL_FILES_DOCUMENT_ROOT", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
        ),
    )

    # Per-project defaults (a project's extra_params override them) come from ProjectSettings, above.
    debounce_seconds: float = 1.0
    # A webhook stream that never goes quiet for debounce_seconds is still applied and trained on: once its oldest
    # unapplied event (or applied, untrained annotation) is this many seconds old (a burst is applied after it, in
    # bulk, and trained on once).
    retrain_max_lag_seconds: float = Field(default=60.0, gt=0)
    public_url: str | None = None  # how browsers reach this backend (links to the project pages); default host:port

    # Resources and limits.
    torch_threads: int = Field(default_factory=lambda: default_torch_threads())
    max_concurrent_trainings: int = 1
    # Background work after a version (the data-quality pass: label issues, review, 5-fold estimate, drift) runs
    # only while no training round is coming, queued or training, for a project's newest version only, and at most
    # once per this many seconds per project (service/quality_runner.py).
    background_interval_seconds: float = Field(default=10.0, ge=0)
    media_timeout_seconds: float = 10.0
    max_media_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_body_bytes: int = 50 * 1024 * 1024
    max_predict_tasks: int = 10_000
    keep_prediction_versions: int = 2
    # The stale versions' prune in Label Studio waits for the project's next round (it runs while that round
    # fits), at most this many seconds after the new version went live (labelstudio/stale_versions.py).
    prune_hold_seconds: float = 10.0
    # Decoded pool inputs (images, vectors, texts) kept in memory between retrains, per process.
    input_cache_mb: int = 2048
    # Sentence embeddings kept on disk under <data_dir>/embeddings/<model>/ (learners/embedding_store.py), at most
    # this many vectors per model.
    embedding_store_rows: int = Field(default=1_000_000, ge=0)
    # The encoder `learner: auto` gives image projects (learners/auto.py): auto (the installed default,
    # EfficientNet-Lite0 from its wheel), an encoder plugin's name, or none (pixels). A project's own
    # learner_params.encoder wins.
    image_encoder: str = "auto"
    # How predictions enter Label Studio: auto (probe its bulk import), bulk, single (labelstudio/pusher.py).
    prediction_import: Literal["auto", "bulk", "single"] = "auto"
    prediction_import_concurrency: int = 2
    # Data quality (labelsieve.quality): MLflow tracking is off unless a tracking URI is set
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("LABELSIEVE_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"))
    mlflow_experiment: str = "labelsieve"
    mlflow_artifact_location: str | None = None  # default: <data_dir>/mlflow-artifacts (never the working directory)
    start_workers: bool = True
    # The first /setup of a project labelsieve never synced syncs it in the background, trains on its existing
    # annotations and pushes a first head (service/first_contact.py); the task list comes in pages of this size.
    first_contact: bool = True
    first_contact_page_size: int = Field(default=5000, ge=1)
    # the first head is ranked from this page; Label Studio's task listing costs ~3 s per 100 tasks of a page on a
    # 100k-task project under load (PostgreSQL, load 34: 1000 tasks 25 s, 100 tasks 2.9 s)
    first_contact_first_page_size: int = Field(default=250, ge=1)

    # Auth (issue 7 builds on these).
    basic_auth_user: str | None = None
    basic_auth_pass: str | None = None
    bearer_token: str | None = None
    webhook_secret: str | None = None
    # Re-read each webhook's annotation from Label Studio (when a key is configured) before storing it.
    verify_webhooks: bool = True
    # With verification on, /setup refuses a Label Studio it cannot reach with the URL and key it would use
    # (the message names both); false accepts the connection anyway (events then wait, visibly, in /health).
    setup_checks_label_studio: bool = True

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.model_dir is None:
            self.model_dir = self.data_dir / "models"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'labelsieve.sqlite3').as_posix()}"
        return self

    @property
    def base_url(self) -> str:
        """The URL printed and linked for this backend's pages."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # a browser cannot open 0.0.0.0
        return (self.public_url or f"http://{host}:{self.port}").rstrip("/")

    @property
    def media_cache_dir(self) -> Path:
        return self.data_dir / "media-cache"

    @property
    def models_path(self) -> Path:
        assert self.model_dir is not None
        return self.model_dir

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, built once per process on first use."""
    return Settings()
