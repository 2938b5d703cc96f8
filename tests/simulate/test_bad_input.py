"""Bad input through the CLI: a non-zero exit and a one-line message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


def _run(args: list[str]) -> tuple[int, str]:
    from labelsieve.cli import app

    result = CliRunner().invoke(app, ["simulate", *args])
    assert isinstance(result.exception, SystemExit), result.exception  # typer.Exit, not a crash
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def two_class_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_text("x,y,kind\n" + "\n".join(f"{i},{i % 3},{'a' if i % 2 else 'b'}" for i in range(40)))
    return path


def test_csv_without_the_label_column(two_class_csv: Path, tmp_path: Path) -> None:
    code, message = _run(["--dataset", str(two_class_csv), "--out", str(tmp_path / "o")])
    assert code != 0
    assert "no label column 'label'" in message and "x, y, kind" in message and "--label-column" in message


def test_a_class_with_one_example(two_class_csv: Path, tmp_path: Path) -> None:
    with two_class_csv.open("a") as file:
        file.write("\n5,5,lonely")
    code, message = _run(["--dataset", str(two_class_csv), "--label-column", "kind", "--out", str(tmp_path / "o")])
    assert code != 0 and "'lonely'" in message and "single example" in message


def test_a_budget_smaller_than_the_seed_set(tmp_path: Path) -> None:
    code, message = _run(["--dataset", "digits", "--budget", "10", "--out", str(tmp_path / "o")])
    assert code != 0
    assert "budget (10 labels) is smaller than the seed set (20 labels)" in message


def test_unknown_strategy_and_missing_file(tmp_path: Path) -> None:
    code, message = _run(["--dataset", "digits", "--strategies", "nonsense", "--out", str(tmp_path / "o")])
    assert code != 0 and "nonsense" in message
    code, message = _run(["--dataset", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")])
    assert code != 0 and "does not exist" in message
