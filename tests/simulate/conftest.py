from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.api.conftest import client_factory  # noqa: F401 - the live-report test builds an app

# the report tests test the report: the fast reference recipe (auto on images is auto_image, whose full-data
# reference cross-validates a CNN on ~1,400 digits per seed)
DIGITS_ARGS = ["--dataset", "digits", "--strategies", "margin", "--seeds", "3", "--budget", "80", "--initial", "20",
               "--batch-size", "10", "--rare-class", "8", "--learner", "vector"]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One CLI simulation on digits (margin and random, 3 seeds), shared by the report tests."""
    from labelsieve.cli import app

    out = tmp_path_factory.mktemp("sim") / "digits"
    result = CliRunner().invoke(app, ["simulate", *DIGITS_ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: the report reads through crud, which tests/storage covers on PostgreSQL."""
    return f"sqlite:///{(tmp_path / 'live.sqlite3').as_posix()}"
