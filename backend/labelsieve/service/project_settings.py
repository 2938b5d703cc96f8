"""Per-project settings: Label Studio's ``extra_params`` over the service defaults.

``extra_params`` arrive from Label Studio as a JSON object or as a JSON string (both happen).
Recognised keys: ``strategy``, ``strategy_params``, ``learner``, ``learner_params``,
``batch_size``, ``retrain_every``, ``min_annotations``, ``seed``, ``balancing``,
``balancing_params``, ``preannotate_threshold``. Unknown keys and bad values are refused with a message naming them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from labelsieve.balancing.base import BalancingError
from labelsieve.balancing.config import check_balancing, check_params
from labelsieve.labelconfig import LabelConfig
from labelsieve.registry import PluginLoadError, Registries, UnknownPluginError
from labelsieve.settings import Settings

KNOWN_KEYS = {
    "strategy", "strategy_params", "learner", "learner_params", "batch_size", "retrain_every",
    "min_annotations", "seed", "balancing", "balancing_params", "preannotate_threshold",
}


class ProjectSettingsError(ValueError):
    """A project setting is unknown or invalid; the message says which and why."""


@dataclass(frozen=True)
class ProjectSettings:
    strategy: str
    strategy_params: dict[str, Any] = field(default_factory=dict)
    learner: str = "auto"
    learner_params: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 10
    retrain_every: int = 1
    min_annotations: int = 2
    seed: int = 0
    balancing: str | None = None
    balancing_params: dict[str, Any] = field(default_factory=dict)
    preannotate_threshold: float = 0.8

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_extra_params(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProjectSettingsError(f"extra_params is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProjectSettingsError(f"extra_params must be a JSON object, got {type(raw).__name__}")
    return raw


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProjectSettingsError(f"{name} must be a positive integer, got {value!r}")
    return value


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ProjectSettingsError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _dict(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProjectSettingsError(f"{name} must be a JSON object, got {type(value).__name__}")
    return dict(value)


def default_learner_for(config: LabelConfig | None) -> str:
    return "text" if config is not None and config.kind == "text" else "image"


def resolve_settings(
    *, settings: Settings, extra: dict[str, Any], config: LabelConfig | None, registries: Registries
) -> ProjectSettings:
    """Merge ``extra`` over the defaults, validate every value, and check plugin names exist."""
    unknown = sorted(set(extra) - KNOWN_KEYS)
    if unknown:
        raise ProjectSettingsError(f"unknown setting(s) {unknown}; known: {sorted(KNOWN_KEYS)}")
    strategy = extra.get("strategy", settings.default_strategy)
    learner = extra.get("learner", settings.default_learner)
    if not isinstance(strategy, str) or not isinstance(learner, str):
        raise ProjectSettingsError("strategy and learner must be names (strings)")
    if learner == "auto":
        learner = default_learner_for(config)
    seed = extra.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ProjectSettingsError(f"seed must be an integer, got {seed!r}")
    balancing = extra.get("balancing")
    if balancing is not None and not isinstance(balancing, str):
        raise ProjectSettingsError(f"balancing must be a name or null, got {balancing!r}")
    resolved = ProjectSettings(
        strategy=strategy,
        strategy_params=_dict("strategy_params", extra.get("strategy_params", settings.default_strategy_params)),
        learner=learner,
        learner_params=_dict("learner_params", extra.get("learner_params", settings.default_learner_params)),
        batch_size=_positive_int("batch_size", extra.get("batch_size", settings.batch_size)),
        retrain_every=_positive_int("retrain_every", extra.get("retrain_every", settings.retrain_every)),
        min_annotations=_positive_int("min_annotations", extra.get("min_annotations", settings.min_annotations)),
        seed=seed,
        balancing=balancing,
        balancing_params=_dict("balancing_params", extra.get("balancing_params")),
        preannotate_threshold=_fraction("preannotate_threshold",
                                        extra.get("preannotate_threshold", settings.preannotate_threshold)),
    )
    _check_plugins(resolved, config, registries)
    return resolved


def _check_plugins(resolved: ProjectSettings, config: LabelConfig | None, registries: Registries) -> None:
    """Full check (instantiate, input kind, balancing) when the plugins are imported already; else the light
    check: the names exist in the entry-point metadata and the balancing params are well-formed. ``/setup``
    must answer inside Label Studio's 3 s, and the first import of a learner (torch, scikit-learn) takes seconds
    on a busy machine; the plugins load in the background and the next ``/setup`` (Label Studio sends one before
    every prediction request) or the first retrain checks fully."""
    if not (registries.strategies.is_loaded(resolved.strategy) and registries.learners.is_loaded(resolved.learner)):
        try:
            registries.strategies.info(resolved.strategy)
            registries.learners.info(resolved.learner)
            for error in (registries.strategies.load_error(resolved.strategy),
                          registries.learners.load_error(resolved.learner)):
                if error is not None:  # the background load already found it broken
                    raise error
            check_params(resolved.balancing_params)
        except (UnknownPluginError, PluginLoadError, BalancingError) as exc:
            raise ProjectSettingsError(str(exc)) from exc
        return
    try:
        registries.strategies.create(resolved.strategy, resolved.strategy_params)
        learner = registries.learners.create(resolved.learner, resolved.learner_params)
    except (UnknownPluginError, PluginLoadError, ValueError) as exc:
        raise ProjectSettingsError(str(exc)) from exc
    kind = getattr(learner, "input_kind", None)
    if config is not None and kind not in (config.kind, "vector"):
        raise ProjectSettingsError(
            f"learner {resolved.learner!r} reads {kind} inputs but the label config labels <{config.kind}> data"
        )
    try:
        check_balancing(resolved.balancing, resolved.balancing_params, learner_cls=type(learner), input_kind=kind)
    except BalancingError as exc:
        raise ProjectSettingsError(str(exc)) from exc
