"""Service settings, read from the environment (``LABELSIEVE_*``) or passed in by tests.

Label Studio's own names are honoured too (``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``,
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``) so a backend configured for the official
label-studio-ml-backend works unchanged.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator
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


class Settings(BaseSettings):
    """Everything the service needs; one instance per app (no import-time singletons)."""

    model_config = SettingsConfigDict(env_prefix="LABELSIEVE_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 9090
    data_dir: Path = Path("data")
    database_url: str | None = None
    model_dir: Path | None = None
    log_level: str = "INFO"

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

    # Per-project defaults (a project's extra_params override them).
    default_strategy: str = "margin"
    default_strategy_params: dict[str, Any] = Field(default_factory=dict)
    default_learner: str = "auto"
    default_learner_params: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = 10
    retrain_every: int = 1
    debounce_seconds: float = 1.0
    min_annotations: int = 2
    # A prediction carries its answer pre-ticked only above this estimated accuracy and confidence
    # (storage/preannotation.py); below it, the score alone.
    preannotate_threshold: float = 0.8

    # Resources and limits.
    torch_threads: int = Field(default_factory=lambda: default_torch_threads())
    max_concurrent_trainings: int = 1
    media_timeout_seconds: float = 10.0
    max_media_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_body_bytes: int = 50 * 1024 * 1024
    max_predict_tasks: int = 10_000
    keep_prediction_versions: int = 2
    start_workers: bool = True

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
