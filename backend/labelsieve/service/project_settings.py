"""Per-project settings: Label Studio's ``extra_params`` over the service defaults.

``extra_params`` arrive from Label Studio as a JSON object or as a JSON string (both happen).
The recognised keys are the fields of :class:`labelsieve.settings.ProjectSettings` (declared there
once, with type, default and meaning). Unknown keys and bad values are refused with a message naming them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from labelsieve.balancing.base import BalancingError
from labelsieve.balancing.config import check_balancing, check_params
from labelsieve.devices import check_device
from labelsieve.labelconfig import LabelConfig
from labelsieve.learners.auto import resolve_auto
from labelsieve.learners.text_models import check_embedding_model
from labelsieve.learners.weights_files import check_encoder_files
from labelsieve.registry import PluginLoadError, Registries, UnknownPluginError
from labelsieve.service.observe_setting import check_observe
from labelsieve.settings import PROJECT_FIELDS, PROJECT_TYPES, ProjectSettings, Settings, service_name
from labelsieve.storage import crud
from labelsieve.strategies.base import QueryStrategy
from labelsieve.tasktypes.base import TaskType

__all__ = ["KNOWN_KEYS", "ProjectSettings", "ProjectSettingsError", "ResolvedSettings", "parse_extra_params",
           "resolve_settings", "store_project_settings"]

KNOWN_KEYS = frozenset(f.name for f in PROJECT_FIELDS)


class ProjectSettingsError(ValueError):
    """A project setting is unknown or invalid; the message says which and why."""


@dataclass(frozen=True)
class ResolvedSettings:
    """A project's checked settings and the strategy built from them (built once, at ``/setup``)."""

    settings: ProjectSettings
    strategy: QueryStrategy | None  # None: its plugin had not loaded yet (light check)
    input_kind: str | None
    #: False after the light check (plugins not loaded yet): resolved fully again before the first retrain
    complete: bool = True


def store_project_settings(*, session: Session, project_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """The one writer of a project's stored settings besides ``/setup``: ``changes`` over what is stored (unknown
    keys refused). The loop resolves the new settings at its next read (``ActiveLearningLoop.settings_of``)."""
    _refuse_unknown(changes)
    project = crud.get_project(session=session, project_id=project_id)
    if project is None:
        raise LookupError(f"project {project_id} is not set up")
    merged = {**(project.settings or {}), **changes}
    crud.upsert_project(session=session, project_id=project_id, settings=merged)
    return merged


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


def _checked(name: str, kind: Any, value: Any, minimum: int | None) -> Any:
    """``value`` if it has the declared type (a JSON object for dicts, null allowed only where declared)."""
    if kind == dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ProjectSettingsError(f"{name} must be a JSON object, got {type(value).__name__}")
        return dict(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProjectSettingsError(f"{name} must be {'a positive' if minimum == 1 else 'an'} integer, "
                                       f"got {value!r}")
        if minimum is not None and value < minimum:
            raise ProjectSettingsError(f"{name} must be {'a positive integer' if minimum == 1 else f'>= {minimum}'}"
                                       f", got {value!r}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ProjectSettingsError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is float:  # a share: its range is checked with it (_share)
        return value
    if kind == int | None:  # queue_depth: a count, or "all" (null)
        return None if value in (None, "all") else _checked(name, int, value, minimum)
    if kind == str | None:
        if value is not None and not isinstance(value, str):
            raise ProjectSettingsError(f"{name} must be a name or null, got {value!r}")
        return value
    if kind is str and not isinstance(value, str):
        raise ProjectSettingsError(f"{name} must be a name (a string), got {value!r}")
    return value


def _share(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 0.5:
        raise ProjectSettingsError(f"{name} must be a number from 0 to 0.5, got {value!r}")
    return float(value)


def _prune(value: Any) -> str | dict[str, float]:
    """``"off"``, ``"flagged"`` or ``{"keep_top": share}`` with 0 < share <= 1."""
    if value in ("off", "flagged"):
        return str(value)
    if isinstance(value, dict) and set(value) == {"keep_top"}:
        share = value["keep_top"]
        if not isinstance(share, bool) and isinstance(share, int | float) and 0.0 < share <= 1.0:
            return {"keep_top": float(share)}
        raise ProjectSettingsError(f"prune keep_top must be a number above 0 and at most 1, got {share!r}")
    raise ProjectSettingsError(f'prune must be "off", "flagged" or {{"keep_top": 0.85}}, got {value!r}')


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ProjectSettingsError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _data_kind(config: LabelConfig | None) -> str:
    return "text" if config is not None and config.kind == "text" else "image"


def _refuse_unknown(extra: dict[str, Any]) -> None:
    unknown = sorted(set(extra) - KNOWN_KEYS)
    if unknown:
        raise ProjectSettingsError(f"unknown setting(s) {unknown}; known: {sorted(KNOWN_KEYS)}")


def resolve_settings(
    *, settings: Settings, extra: dict[str, Any], config: LabelConfig | None, registries: Registries,
    light: bool = True, strategy: QueryStrategy | None = None, task_type: TaskType | None = None,
) -> ResolvedSettings:
    """Merge ``extra`` over the defaults, validate every value, check the plugins and build the strategy.

    ``light``: only the light check while the plugins have not loaded (``/setup``); ``False`` imports them and
    checks fully (a retrain). ``strategy``: the one a light check of the same settings built already.
    ``task_type``: the config's task type (None: single-label): it picks the ``auto`` learner, and a strategy,
    learner or balancing it cannot serve is refused naming both."""
    _refuse_unknown(extra)
    values = {
        f.name: _checked(f.name, PROJECT_TYPES[f.name], extra.get(f.name, getattr(settings, service_name(f))),
                         f.metadata["minimum"])
        for f in PROJECT_FIELDS
    }
    for f in PROJECT_FIELDS:
        allowed = f.metadata.get("choices")
        if allowed is not None and values[f.name] not in allowed:
            raise ProjectSettingsError(f"{f.name} must be one of {list(allowed)}, got {values[f.name]!r}")
    if "strategy" not in extra and task_type is not None and task_type.default_strategy:
        values["strategy"] = task_type.default_strategy  # the service default may not serve this task type
    values["audit_share"] = _share("audit_share", values["audit_share"])
    values["prune"] = _prune(values["prune"])
    values["preannotate_threshold"] = _fraction("preannotate_threshold", values["preannotate_threshold"])
    if values["learner"] == "auto":  # the same resolution as `labelsieve simulate` (learners/auto.py)
        choice = resolve_auto("auto", _data_kind(config), values["learner_params"],
                              image_encoder=settings.image_encoder)
        values["learner"], values["learner_params"] = choice.learner, choice.params
        if task_type is not None:  # e.g. one-vs-rest over that learner (multi-label), the CRF (spans)
            values["learner"], values["learner_params"] = task_type.default_learner(
                config, values["learner"], values["learner_params"])
    if task_type is not None and values["balancing"] and not task_type.supports_balancing:
        raise ProjectSettingsError(f"balancing {values['balancing']!r} is not available for task type "
                                   f"{task_type.name!r}; set balancing to null")
    try:
        values["device"] = check_device(values["device"])
        check_encoder_files(values["learner_params"])  # a missing or damaged weights file: named at /setup
        if values["learner_params"].get("embedding_model"):  # a hub name offline and not cached: named at /setup
            check_embedding_model(str(values["learner_params"]["embedding_model"]))
    except ValueError as exc:
        raise ProjectSettingsError(str(exc)) from exc
    resolved = ProjectSettings(**values)
    if resolved.observe is not None:  # observer mode trains nothing: no strategy, learner or balancing to check
        try:
            check_observe(resolved.observe, task_type)
        except ValueError as exc:
            raise ProjectSettingsError(str(exc)) from exc
        return ResolvedSettings(settings=resolved, strategy=None, input_kind=None, complete=True)
    strategy, input_kind, complete = _check_plugins(resolved, config, registries, light=light, strategy=strategy,
                                                    task_type=task_type)
    return ResolvedSettings(settings=resolved, strategy=strategy, input_kind=input_kind, complete=complete)


def _check_plugins(
    resolved: ProjectSettings, config: LabelConfig | None, registries: Registries, *, light: bool = True,
    strategy: QueryStrategy | None = None, task_type: TaskType | None = None,
) -> tuple[QueryStrategy | None, str | None, bool]:
    """Full check (instantiate, input kind, balancing) when the plugins are imported already; else the light
    check: the names exist in the entry-point metadata and the balancing params are well-formed. ``/setup``
    must answer inside Label Studio's 3 s, and the first import of a learner (torch, scikit-learn) takes seconds
    on a busy machine; the plugins load in the background and the project's settings are resolved fully again
    once they have (:meth:`ActiveLearningLoop.settings_of`), before its first retrain. Returns the strategy built
    when its plugin is loaded (its ``check()`` run), the learner's input kind and whether the check was full."""
    loaded = registries.strategies.is_loaded(resolved.strategy) and registries.learners.is_loaded(resolved.learner)
    if light and not loaded:
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
        loaded = registries.strategies.is_loaded(resolved.strategy)
        if task_type is not None and task_type.name != "single_label":
            # another task type: its strategy and learner must serve it, so /setup loads both to ask them
            # (single-label projects keep the light check: every strategy and learner serves them)
            _check_learner_serves(resolved, registries, task_type)
            return _checked_strategy(resolved, registries, task_type), None, False
        return (_checked_strategy(resolved, registries, task_type) if loaded else None), None, False
    strategy = strategy if strategy is not None else _checked_strategy(resolved, registries, task_type)
    try:
        learner = registries.learners.create(resolved.learner, resolved.learner_params)
        check = getattr(learner, "check", None)  # value checks of learners that have them (e.g. linear_params)
        if check is not None:
            check()
    except (UnknownPluginError, PluginLoadError, ValueError) as exc:
        raise ProjectSettingsError(str(exc)) from exc
    if task_type is not None:
        _check_learner_serves(resolved, registries, task_type)
    kind = getattr(learner, "input_kind", None)
    if config is not None and kind not in (config.kind, "vector"):
        raise ProjectSettingsError(
            f"learner {resolved.learner!r} reads {kind} inputs but the label config labels <{config.kind}> data"
        )
    try:
        check_balancing(resolved.balancing, resolved.balancing_params, learner_cls=type(learner), input_kind=kind,
                        learner_name=resolved.learner)
    except BalancingError as exc:
        raise ProjectSettingsError(str(exc)) from exc
    return strategy, kind, True


def _check_learner_serves(resolved: ProjectSettings, registries: Registries, task_type: TaskType) -> None:
    try:
        learner_cls = registries.learners.load(resolved.learner)
    except (UnknownPluginError, PluginLoadError) as exc:
        raise ProjectSettingsError(str(exc)) from exc
    if not task_type.accepts_learner(learner_cls):
        raise ProjectSettingsError(f"learner {resolved.learner!r} does not learn task type {task_type.name!r}; "
                                   f"use learner 'auto' (or one that lists {task_type.name!r} in its task_types)")


def _checked_strategy(resolved: ProjectSettings, registries: Registries,
                      task_type: TaskType | None = None) -> QueryStrategy:
    """The project's strategy, built and its parameters checked (``QueryStrategy.check``), and refused naming
    both when it does not serve the project's task type."""
    try:
        strategy = registries.strategies.create(resolved.strategy, resolved.strategy_params)
        check = getattr(strategy, "check", None)  # QueryStrategy.check; duck-typed plugins may lack it
        if check is not None:
            check()
        if task_type is not None:
            task_type.check_strategy(strategy, resolved.strategy)
    except (UnknownPluginError, PluginLoadError, ValueError) as exc:
        raise ProjectSettingsError(str(exc)) from exc
    return strategy
