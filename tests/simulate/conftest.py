from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

DIGITS_ARGS = ["--dataset", "digits", "--strategies", "margin", "--seeds", "3", "--budget", "80", "--initial", "20",
               "--batch-size", "10", "--rare-class", "8"]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One CLI simulation on digits (margin and random, 3 seeds), shared by the report tests."""
    from labelsieve.cli import app

    out = tmp_path_factory.mktemp("sim") / "digits"
    result = CliRunner().invoke(app, ["simulate", *DIGITS_ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output
