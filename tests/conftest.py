"""Shared fixtures: databases (SQLite and a real PostgreSQL), settings, apps, digits images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# image projects on pixels unless a test asks for an encoder (tests/unit/test_auto_resolve.py, test_encoders.py):
# the rest of the suite tests the service, not EfficientNet's speed on two shared cores
os.environ.setdefault("LABELSIEVE_IMAGE_ENCODER", "none")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    from tests.harness.postgres import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def settings_factory(tmp_path: Path, database_url: str):
    from labelsieve.settings import Settings

    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": tmp_path / "data", "database_url": database_url, "debounce_seconds": 0.2,
            "torch_threads": 1, "label_studio_url": None, "label_studio_api_key": None,
            "background_interval_seconds": 0.0,
            "local_files_document_root": tmp_path / "files",
        }
        base.update(overrides)
        return Settings(**base)

    return make


@pytest.fixture(scope="session")
def digits_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], object]:
    """All 1797 digits as PNG files under a document root; (root, relative paths, labels)."""
    from tests.factories import write_digits

    root = tmp_path_factory.mktemp("files")
    paths, labels = write_digits(root)
    return root, paths, labels
