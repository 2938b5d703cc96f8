"""One registry door: a run-time registration is seen by every wrapper; a name two packages claim is reported."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from labelsieve.registry import Registry, UnknownPluginError, get_registry
from labelsieve.strategies.base import PoolContext, QueryStrategy, full_ranking
from labelsieve.testing import vector_context
from tests.factories import TEXT_CONFIG, setup_payload
from tests.registry.test_plugin_discovery import run_cli

NAME = "first_class_first"


class FirstClassFirst(QueryStrategy):
    """Most probable first class first (a strategy no package installs)."""

    def score(self, ctx: PoolContext) -> np.ndarray:
        return np.asarray(ctx.probas[:, 0], dtype=np.float64)


@pytest.fixture
def registered() -> object:
    registry = get_registry("strategies")
    registry.register(NAME, FirstClassFirst)
    yield registry
    registry.unregister(NAME)


def test_a_strategy_registered_at_run_time_is_found_by_the_wrappers(registered) -> None:
    ctx = vector_context(60, seed=0)
    own = FirstClassFirst().score(ctx)
    wrappers = {
        "subsample": {"base": NAME, "size": 1000},
        "prefilter_diversify": {"prefilter": NAME},
        "class_balanced": {"base": NAME},
        "scorecard": {"weights": {NAME: 1.0}, "normalise": "minmax"},
    }
    for name, params in wrappers.items():
        wrapped = get_registry("strategies").create(name, params).score(vector_context(60, seed=0))
        expected = (own - own.min()) / (own.max() - own.min()) if name == "scorecard" else own
        np.testing.assert_allclose(wrapped, expected, err_msg=name)
    aware = get_registry("strategies").create("balance_aware", {"base": NAME, "weight": 0.0})
    order, _ = full_ranking(aware, vector_context(60, seed=0), 10)
    assert list(order[:10]) == list(np.argsort(-own, kind="stable")[:10])


def test_a_run_time_strategy_is_accepted_at_setup_and_gone_after_unregister(registered, client_factory) -> None:
    with client_factory() as client:
        ok = client.post("/setup", json=setup_payload(3, TEXT_CONFIG, {
            "strategy": "subsample", "strategy_params": {"base": NAME}}))
        assert ok.status_code == 200, ok.text
        assert NAME in {r["name"] for r in client.get("/strategies").json()}
        registered.unregister(NAME)
        refused = client.post("/setup", json=setup_payload(4, TEXT_CONFIG, {
            "strategy": "subsample", "strategy_params": {"base": NAME}}))
        assert refused.status_code == 400 and f"unknown strategy {NAME!r}" in refused.json()["detail"]
    with pytest.raises(UnknownPluginError):
        get_registry("strategies").create("prefilter_diversify", {"prefilter": NAME}).score(vector_context(20, 0))


@pytest.fixture
def rival_dists(tmp_path: Path) -> Path:
    """Two installed distributions that both name a strategy ``rival``."""
    site = tmp_path / "site"
    for package in ("alpha", "beta"):
        info = site / f"labelsieve_rival_{package}-1.0.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: labelsieve-rival-{package}\nVersion: 1.0.0\n")
        (info / "entry_points.txt").write_text(f"[labelsieve.strategies]\nrival = rival_{package}:Rival\n")
        (site / f"rival_{package}.py").write_text(
            "from labelsieve.strategies.random import RandomSampling\n\nclass Rival(RandomSampling):\n"
            f"    '''The {package} rival.'''\n")
    return site


def test_two_packages_claiming_one_name_are_reported_not_dropped(rival_dists: Path, monkeypatch, caplog) -> None:
    monkeypatch.syspath_prepend(str(rival_dists))
    registry = Registry("strategies")
    with caplog.at_level(logging.WARNING, logger="labelsieve.registry"):
        rows = {r["name"]: r for r in registry.describe()}
    serving = rows["rival"]["package"]
    other = ({"labelsieve-rival-alpha", "labelsieve-rival-beta"} - {serving}).pop()
    assert len(rows["rival"]["conflicts"]) == 1 and other in rows["rival"]["conflicts"][0]
    assert f"'rival' is claimed by {serving} 1.0.0 and {other} 1.0.0" in caplog.text
    assert "conflicts" not in rows["margin"]

    listed = run_cli("plugins", "--json", extra_path=rival_dists)
    assert listed.returncode == 0, listed.stderr
    rival = [r for r in json.loads(listed.stdout)["strategies"] if r["name"] == "rival"]
    assert rival and other in rival[0]["conflicts"][0] and rival[0]["package"] == serving
    table = run_cli("plugins", extra_path=rival_dists)
    assert table.returncode == 0, table.stderr
