"""Task types: discovered from the label config, registered through the ``labelsieve.task_types`` entry points.

:func:`task_type_for` is the one door: it parses the config once, asks every registered task type which control
tags it :meth:`~labelsieve.tasktypes.base.TaskType.reads`, and returns the one type that claims every control tag
with its parsed config. The contract is :mod:`labelsieve.tasktypes.base`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from labelsieve.labelconfig import MAX_CONFIG_CHARS, SUPPORTED, UnsupportedLabelConfig
from labelsieve.registry import PluginLoadError, Registries, get_registries
from labelsieve.tasktypes.base import (
    ANY_TASK_TYPE,
    TaskLabelIssues,
    TaskType,
    UnsupportedTaskType,
    strategy_task_types,
)

__all__ = ["ANY_TASK_TYPE", "ServedConfig", "TaskLabelIssues", "TaskType", "UnsupportedTaskType", "control_tags",
           "describe_tag", "get_task_type", "strategy_task_types", "task_type_for"]


@dataclass(frozen=True)
class ServedConfig:
    """The task type that serves a label config and its parsed view of it."""

    task_type: TaskType
    config: Any

    @property
    def name(self) -> str:
        return self.task_type.name


def describe_tag(element: Element) -> str:
    name = element.get("name")
    return f"<{element.tag} name={name!r}>" if name else f"<{element.tag}>"


def control_tags(root: Element) -> list[Element]:
    """Every control tag of a config: the tags that label an object (they carry ``toName``)."""
    return [el for el in root.iter() if isinstance(el.tag, str) and el.get("toName") is not None]


def _parse(xml: str) -> Element:
    if not isinstance(xml, str) or not xml.strip():
        raise UnsupportedLabelConfig("the label config is empty. " + SUPPORTED)
    if len(xml) > MAX_CONFIG_CHARS:
        raise UnsupportedLabelConfig(f"the label config is longer than {MAX_CONFIG_CHARS} characters")
    try:
        root: Element = SafeET.fromstring(xml)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise UnsupportedLabelConfig(f"the label config is not well-formed XML ({exc})") from exc
    return root


def get_task_type(name: str, registries: Registries | None = None) -> TaskType:
    """The registered task type ``name`` (``UnknownPluginError`` lists the available ones)."""
    registry = (registries or get_registries()).task_types
    task_type: TaskType = registry.create(name, {})
    return task_type


def _all_task_types(registries: Registries) -> list[TaskType]:
    types: list[TaskType] = []
    for name in registries.task_types.names():
        try:
            types.append(registries.task_types.create(name, {}))
        except PluginLoadError:  # logged by the registry; a broken plugin must not refuse every config
            continue
    return types


def _hints(types: list[TaskType], tags: list[Element]) -> str:
    """What registered types say about tags nobody serves (e.g. boxes about <PolygonLabels>)."""
    said = [t.refusal_hints[el.tag.lower()] for el in tags for t in types if el.tag.lower() in t.refusal_hints]
    return "".join(f" {hint}." for hint in dict.fromkeys(said))


def task_type_for(xml: str, registries: Registries | None = None) -> ServedConfig:
    """The task type serving ``xml`` and its parsed config; :class:`UnsupportedLabelConfig` naming the tags when
    no type, or more than one, would serve the controls (Label Studio shows the message at ``/setup``)."""
    root = _parse(xml)
    controls = control_tags(root)
    claims: dict[str, list[Element]] = {}
    by_name: dict[str, TaskType] = {}
    every_type = _all_task_types(registries or get_registries())
    for task_type in every_type:
        claimed = task_type.reads(root)
        if claimed:
            claims[task_type.name] = claimed
            by_name[task_type.name] = task_type
    if not claims:
        found = ", ".join(describe_tag(el) for el in controls) or "no control tag"
        raise UnsupportedLabelConfig(f"no task type of labelsieve serves this config (found {found})."
                                     + _hints(every_type, controls) + " " + SUPPORTED)
    if len(claims) > 1:
        parts = "; ".join(f"{', '.join(describe_tag(el) for el in tags)} ({name})" for name, tags in claims.items())
        raise UnsupportedLabelConfig(
            f"this label config mixes kinds labelsieve cannot serve together: {parts}. "
            "Use one kind of control per project (or one project per kind)")
    name, claimed = next(iter(claims.items()))
    unclaimed = [el for el in controls if not any(el is c for c in claimed)]
    if unclaimed:
        raise UnsupportedLabelConfig(
            f"the task type {name!r} serves {', '.join(describe_tag(el) for el in claimed)} but not "
            f"{', '.join(describe_tag(el) for el in unclaimed)}: labelsieve cannot serve these tags together."
            + _hints(every_type, unclaimed))
    task_type = by_name[name]
    return ServedConfig(task_type=task_type, config=task_type.parse_config(xml))
