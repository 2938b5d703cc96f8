from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

BROKEN_MODULE = "labelsieve_broken_plugin_mod"
BROKEN_ERROR = "needs libfrobnicate, which is not installed"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Plugin discovery does not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}"


@pytest.fixture
def client_factory(settings_factory) -> Callable[..., object]:
    from labelsieve.api.app import create_app

    @contextmanager
    def make(**overrides: object) -> Iterator[TestClient]:
        with TestClient(create_app(settings_factory(**overrides))) as client:
            yield client

    return make


@pytest.fixture
def broken_dist(tmp_path: Path) -> Path:
    """A throwaway installed distribution ``labelsieve-broken`` whose strategy ``broken`` fails to import."""
    site = tmp_path / "site"
    info = site / "labelsieve_broken-0.3.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: labelsieve-broken\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(f"[labelsieve.strategies]\nbroken = {BROKEN_MODULE}:Broken\n")
    (site / f"{BROKEN_MODULE}.py").write_text(f"raise ImportError({BROKEN_ERROR!r})\n")
    return site
