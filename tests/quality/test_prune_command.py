"""``labelsieve prune``: lists the marked items, --apply retrains without them, --simulate measures pruning."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labelsieve.cli import app
from tests.factories import IMAGE_CONFIG, setup_payload
from tests.quality.helpers import noisy_digits
from tests.quality.test_service_quality import PROJECT, _annotate, _settle


@pytest.mark.slow
def test_prune_lists_marked_items_and_apply_trains_without_them(client_factory, settings_factory, database_url,
                                                               tmp_path) -> None:
    X, given, truth, _ = noisy_digits(0.10, seed=5)
    with client_factory() as client:
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"learner": "vector"})).status_code \
            == 200
        _annotate(client, X, given, range(400))
        _settle(client)
    data_dir = settings_factory().data_dir
    env = {"LABELSIEVE_DATABASE_URL": database_url}
    runner = CliRunner()
    listed = runner.invoke(app, ["prune", "--project", str(PROJECT), "--data-dir", str(data_dir), "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    marked = {row["annotation_id"] for row in body["prune"]}
    assert marked, "10% flipped labels and nothing marked prune"
    flips = {50_000 + i for i in range(400) if given[i] != truth[i]}
    assert len(marked & flips) / len(marked) >= 0.8

    applied = runner.invoke(app, ["prune", "--project", str(PROJECT), "--data-dir", str(data_dir), "--apply",
                                  "--json"], env=env)
    assert applied.exit_code == 0, applied.output
    assert f"{len(marked)} item(s) left out of training; nothing deleted" in " ".join(applied.output.split())
    with client_factory() as client:
        issues = client.get(f"/projects/{PROJECT}/issues").json()
        assert set(issues["pruned_annotations"]) == marked
        status = client.get(f"/projects/{PROJECT}").json()
        assert status["labeled_tasks"] == 400 and status["versions"][-1]["n_train"] == 400 - len(marked)
        assert status["settings"]["prune"] == "flagged"


def test_prune_simulate_reports_detection_and_accuracy() -> None:
    result = CliRunner().invoke(app, ["prune", "--simulate", "digits", "--noise", "sym10", "--learner", "vector"],
                                env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "pruning on digits" in result.output and "-lowest value" in result.output
    bad = CliRunner().invoke(app, ["prune", "--simulate", "digits", "--noise", "lots"])
    assert bad.exit_code == 2 and "symN or asymN" in bad.output
    missing = CliRunner().invoke(app, ["prune"])
    assert missing.exit_code == 2 and "--project" in missing.output
