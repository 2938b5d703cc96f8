"""Plugins are found through real installed entry points: by the CLI, by the server, and by name at /setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.api.helpers import annotate_digits, digit_task, wait_trained
from tests.factories import IMAGE_CONFIG, predict_payload, setup_payload
from tests.registry.conftest import BROKEN_ERROR

CLI = Path(sys.executable).with_name("labelsieve")
PROJECT = 41


def run_cli(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(extra_path), env.get("PYTHONPATH", "")) if p)
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_lists_the_installed_plugin_with_package_version_and_params() -> None:
    result = run_cli("strategies", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {"margin", "entropy", "random", "power", "softmax", "softrank"} <= set(rows)
    assert rows["power"]["package"] == "labelsieve-stochastic" and rows["power"]["version"] == "0.1.0"
    assert rows["power"]["params"] == {"base": "entropy", "base_params": None, "beta": 1.0}
    assert rows["margin"]["package"] == "labelsieve"
    assert all(set(r) >= {"name", "package", "version", "params"} for r in rows.values())


def test_cli_reports_a_broken_plugin_and_still_lists_the_others(broken_dist: Path) -> None:
    result = run_cli("strategies", "--json", extra_path=broken_dist)
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert "power" in rows and "margin" in rows and "error" not in rows["power"]
    assert rows["broken"]["package"] == "labelsieve-broken" and rows["broken"]["version"] == "0.3.0"
    assert "labelsieve-broken" in rows["broken"]["error"] and BROKEN_ERROR in rows["broken"]["error"]

    every = run_cli("plugins", "--json", extra_path=broken_dist)
    assert every.returncode == 0, every.stderr
    kinds = json.loads(every.stdout)
    assert set(kinds) == {"strategies", "learners", "augmenters", "synthesizers", "task_types", "encoders"}
    assert any(r["name"] == "broken" and BROKEN_ERROR in r["error"] for r in kinds["strategies"])
    assert kinds["learners"], "built-in learners are listed through the same registry"
    assert "Traceback" not in result.stderr + every.stderr  # reported in one line, not a crash


def test_server_lists_plugins_and_survives_a_broken_one(client_factory, broken_dist: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(broken_dist))
    with client_factory() as client:
        assert client.get("/health").status_code == 200
        rows = {r["name"]: r for r in client.get("/strategies").json()}
        assert rows["power"]["package"] == "labelsieve-stochastic" and rows["power"]["version"] == "0.1.0"
        assert "beta" in rows["power"]["params"]
        assert BROKEN_ERROR in rows["broken"]["error"]
        plugins = client.get("/plugins").json()
        broken = [r for r in plugins["strategies"] if r["name"] == "broken"]
        assert broken and broken[0]["package"] == "labelsieve-broken" and BROKEN_ERROR in broken[0]["error"]

        response = client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"strategy": "broken"}))
        assert response.status_code == 400
        assert "labelsieve-broken" in response.json()["detail"] and BROKEN_ERROR in response.json()["detail"]
        assert client.get("/health").status_code == 200


def test_unknown_strategy_name_lists_the_available_ones(client_factory) -> None:
    with client_factory() as client:
        response = client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"strategy": "powr"}))
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert "unknown strategy 'powr'" in detail and "power" in detail and "margin" in detail
        bad_base = client.post("/setup", json=setup_payload(
            PROJECT, IMAGE_CONFIG, {"strategy": "power", "strategy_params": {"base": "nope"}}))
        assert bad_base.status_code == 400 and "unknown strategy 'nope'" in bad_base.json()["detail"]


def test_plugin_strategy_chosen_at_setup_ranks_the_pool_after_a_retrain(client_factory, digits_root) -> None:
    root, paths, labels = digits_root
    order = np.random.default_rng(0).permutation(len(paths))
    extra = {"strategy": "power", "strategy_params": {"base": "margin", "beta": 2.0}}
    with client_factory(local_files_document_root=root, debounce_seconds=0.5) as client:
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        pool = [digit_task(1000 + int(i), paths[int(i)], PROJECT) for i in order[60:160]]
        assert client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, pool)).status_code == 200
        annotate_digits(client, PROJECT, paths, labels, order[:60])
        wait_trained(client)
        status = client.get(f"/projects/{PROJECT}").json()
        assert status["last_round"]["strategy"] == "power", status["last_round"]  # not the fallback
        assert status["last_round"]["n_pool"] == 100
