"""Per-project settings are declared once (ProjectSettings) and resolved once per project (at /setup)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pytest

from labelsieve.labelconfig import parse_label_config
from labelsieve.learners.text_models import auto_text_params
from labelsieve.registry import get_registries, get_registry
from labelsieve.service.container import build_service
from labelsieve.service.project_settings import KNOWN_KEYS, ProjectSettingsError, resolve_settings
from labelsieve.settings import PROJECT_FIELDS, ProjectSettings, Settings, service_name
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.strategies.base import PoolContext, QueryStrategy
from tests.factories import TEXT_CONFIG

CONFIG = parse_label_config(TEXT_CONFIG)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}"


@pytest.mark.parametrize("field", PROJECT_FIELDS, ids=lambda f: f.name)
def test_each_declared_setting_is_a_known_key_with_a_service_default_and_a_doc(field) -> None:
    assert field.name in KNOWN_KEYS and field.metadata["doc"]
    default = ProjectSettings().as_dict()[field.name]
    assert getattr(Settings(), service_name(field)) == default  # the service-wide default, derived
    resolved = resolve_settings(settings=Settings(), extra={}, config=CONFIG, registries=get_registries())
    auto = {"learner": "text", "learner_params": auto_text_params({})}  # auto on a text config (text_models.py)
    assert getattr(resolved.settings, field.name) == auto.get(field.name, default)


def test_environment_defaults_and_extra_params_override_in_that_order(monkeypatch) -> None:
    monkeypatch.setenv("LABELSIEVE_BATCH_SIZE", "7")
    monkeypatch.setenv("LABELSIEVE_DEFAULT_STRATEGY", "entropy")
    settings = Settings()
    resolved = resolve_settings(settings=settings, extra={"retrain_every": 3}, config=CONFIG,
                                registries=get_registries()).settings
    assert (resolved.batch_size, resolved.strategy, resolved.retrain_every) == (7, "entropy", 3)
    over = resolve_settings(settings=settings, extra={"batch_size": 2, "strategy": "margin"}, config=CONFIG,
                            registries=get_registries()).settings
    assert (over.batch_size, over.strategy) == (2, "margin")


@pytest.mark.parametrize(("extra", "message"), [
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"retrain_every": True}, "retrain_every must be a positive integer, got True"),
    ({"seed": "1"}, "seed must be an integer, got '1'"),
    ({"strategy": 3}, "strategy must be a name (a string), got 3"),
    ({"balancing": 3}, "balancing must be a name or null, got 3"),
    ({"learner_params": [1]}, "learner_params must be a JSON object, got list"),
    ({"batchsize": 3},
     "unknown setting(s) ['batchsize']; known: ['audit_share', 'balancing', 'balancing_params', 'batch_size'"),
])
def test_a_bad_value_is_refused_naming_the_setting(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ProjectSettingsError) as caught:
        resolve_settings(settings=Settings(), extra=extra, config=CONFIG, registries=get_registries())
    assert message in str(caught.value)


class Counted(QueryStrategy):
    """Margin-like, counting how often it is built (tests only)."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, limit: float = 1.0) -> None:
        self.limit = limit
        Counted.built.append({"limit": limit})

    def check(self) -> None:
        if not 0 < self.limit <= 1:
            raise ValueError(f"limit must be in (0, 1], got {self.limit}")

    def score(self, ctx: PoolContext) -> np.ndarray:
        return -np.abs(ctx.probas[:, 0] - 0.5)


@pytest.fixture
def counted() -> Any:
    Counted.built.clear()
    registry = get_registry("strategies")
    registry.register("counted", Counted)
    yield Counted.built
    registry.unregister("counted")


def _label(service: Any, project_id: int, n: int) -> None:
    texts = [("good great fine", "Positive"), ("bad awful poor", "Negative")]
    with session_scope(service.engine) as session:
        crud.upsert_tasks(session=session, project_id=project_id,
                          tasks=[{"id": i, "data": {"text": f"{texts[i % 2][0]} {i}"}} for i in range(1, 2 * n + 1)])
        for i in range(1, n + 1):
            crud.upsert_annotation(session=session, project_id=project_id, config=CONFIG, annotation={
                "id": 100 + i, "task": i, "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                                      "value": {"choices": [texts[i % 2][1]]}}]})


def test_setup_resolves_once_and_retrains_reuse_it_with_its_strategy(counted, settings_factory) -> None:
    settings = settings_factory(start_workers=False)
    service = build_service(settings)
    try:
        refused = pytest.raises(ProjectSettingsError, match=r"limit must be in \(0, 1\], got 2")
        with refused:  # the strategy's check() runs at /setup
            service.loop.setup_project(project_id=8, label_config=TEXT_CONFIG,
                                       extra_params={"strategy": "counted", "strategy_params": {"limit": 2}})
        service.loop.setup_project(project_id=8, label_config=TEXT_CONFIG,
                                   extra_params={"strategy": "counted", "strategy_params": {"limit": 0.5}})
        assert len(counted) == 2
        _label(service, 8, 6)
        for _ in range(2):
            assert service.loop.retrain(8, force=True).status == "trained"
        assert len(counted) == 2, "the retrains rebuilt the strategy /setup resolved"
    finally:
        service.stop()
    restarted = build_service(settings)  # a restart resolves once, at the first retrain
    try:
        for _ in range(2):
            assert restarted.loop.retrain(8, force=True).status == "trained"
        assert len(counted) == 3
        restarted.loop.setup_project(project_id=8, label_config=TEXT_CONFIG, extra_params={"batch_size": 4})
        assert restarted.loop.settings_of(restarted.loop.project(8)).settings.batch_size == 4
        assert restarted.loop.settings_of(restarted.loop.project(8)).settings.strategy == "margin"
    finally:
        restarted.stop()


def test_adding_a_setting_is_one_field() -> None:
    """Everything about a setting derives from its ProjectSettings field: known key, Settings default, check."""
    declared = {f.name for f in dataclasses.fields(ProjectSettings)}
    assert declared == KNOWN_KEYS
    assert {service_name(f) for f in PROJECT_FIELDS} <= set(Settings.model_fields)
