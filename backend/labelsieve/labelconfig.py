"""Parse a Label Studio label config into the one shape labelsieve serves.

Supported: exactly one ``<Choices>`` control (single choice, or ``choice="multiple"``) whose
``toName`` is one ``<Image>`` or ``<Text>`` object tag with a ``$variable`` value.
Anything else raises :class:`UnsupportedLabelConfig` whose message says what is supported,
because Label Studio shows that message to the user when ``/setup`` refuses the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

SUPPORTED = (
    "labelsieve supports classification configs: exactly one <Choices> control (single choice, "
    'or choice="multiple") whose toName is an <Image> or <Text> tag with a $variable value, '
    'e.g. <View><Image name="image" value="$image"/><Choices name="label" toName="image">'
    '<Choice value="Cat"/><Choice value="Dog"/></Choices></View>'
)
OBJECT_KINDS: dict[str, Literal["image", "text"]] = {"image": "image", "text": "text"}
MAX_CONFIG_CHARS = 1_000_000
#: the label an annotation (or a prediction) of a region task type holds when it marks no region: for spans,
#: "this sentence has no entity", an answer that trains the model like any other
NO_REGION = "(no region)"


class UnsupportedLabelConfig(ValueError):
    """The label config is valid XML but not a shape labelsieve can learn, or not XML at all."""


@dataclass(frozen=True)
class LabelConfig:
    """What labelsieve needs from a label config."""

    from_name: str
    to_name: str
    data_key: str
    kind: Literal["image", "text"]
    labels: tuple[str, ...]
    multiple: bool
    #: the control tag's result type: "choices", or "taxonomy" (multi-label over the taxonomy's leaves)
    control: str = "choices"
    #: for a taxonomy: the path from the root to each label of ``labels`` (what Label Studio's result holds)
    paths: tuple[tuple[str, ...], ...] = ()

    @property
    def result_type(self) -> str:
        return self.control


def _iter(root: Element) -> list[Element]:
    return [el for el in root.iter() if isinstance(el.tag, str)]


def _choice_values(choices: Element) -> tuple[str, ...]:
    values: list[str] = []
    for child in _iter(choices):
        if child.tag.lower() != "choice":
            continue
        value = child.get("value") or child.get("alias")
        if value is None or value.strip() == "":
            raise UnsupportedLabelConfig(f"a <Choice> inside <Choices name={choices.get('name')!r}> "
                                         "has no value attribute")
        if value not in values:
            values.append(value)
    return tuple(values)


def parse_label_config(xml: str) -> LabelConfig:
    """Parse ``xml`` or raise :class:`UnsupportedLabelConfig` saying what is wrong."""
    if not isinstance(xml, str) or not xml.strip():
        raise UnsupportedLabelConfig("the label config is empty. " + SUPPORTED)
    if len(xml) > MAX_CONFIG_CHARS:
        raise UnsupportedLabelConfig(f"the label config is longer than {MAX_CONFIG_CHARS} characters")
    try:
        root = SafeET.fromstring(xml)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise UnsupportedLabelConfig(f"the label config is not well-formed XML ({exc})") from exc

    elements = _iter(root)
    choices = [el for el in elements if el.tag.lower() == "choices"]
    if len(choices) != 1:
        found = "no <Choices> control" if not choices else f"{len(choices)} <Choices> controls"
        raise UnsupportedLabelConfig(f"found {found}. " + SUPPORTED)
    control = choices[0]
    from_name = control.get("name")
    to_name = control.get("toName")
    if not from_name or not to_name:
        raise UnsupportedLabelConfig("the <Choices> control needs both name and toName attributes. "
                                     + SUPPORTED)
    if "," in to_name:
        raise UnsupportedLabelConfig(f"<Choices toName={to_name!r}> points at several objects. " + SUPPORTED)

    targets = [el for el in elements if el.get("name") == to_name and el is not control]
    if not targets:
        raise UnsupportedLabelConfig(f"no object tag named {to_name!r} (the toName of <Choices>). "
                                     + SUPPORTED)
    target = targets[0]
    kind = OBJECT_KINDS.get(target.tag.lower())
    if kind is None:
        raise UnsupportedLabelConfig(f"<Choices> labels a <{target.tag}> tag, which is not supported. "
                                     + SUPPORTED)
    value = (target.get("value") or "").strip()
    if not value.startswith("$") or len(value) < 2:
        raise UnsupportedLabelConfig(f"<{target.tag} name={to_name!r}> needs value=\"$variable\". "
                                     + SUPPORTED)

    labels = _choice_values(control)
    if len(labels) < 2:
        raise UnsupportedLabelConfig(f"<Choices name={from_name!r}> has {len(labels)} <Choice> "
                                     "values; classification needs at least 2")
    mode = (control.get("choice") or "single").lower()
    if mode not in {"single", "single-radio", "multiple"}:
        raise UnsupportedLabelConfig(f"choice={mode!r} is not a Label Studio choice mode "
                                     "(single, single-radio, multiple)")
    return LabelConfig(
        from_name=from_name,
        to_name=to_name,
        data_key=value[1:],
        kind=kind,
        labels=labels,
        multiple=mode == "multiple",
    )


def labels_from_result(result: list[dict[str, object]] | None, config: LabelConfig) -> list[str]:
    """The choices an annotation's ``result`` gives for our control, in config order (for a taxonomy: the leaves
    whose paths it picks)."""
    chosen: list[str] = []
    if config.control == "taxonomy":
        label_of = dict(zip(config.paths, config.labels, strict=True))
        for region in result or []:
            value = region.get("value") if isinstance(region, dict) else None
            if region.get("from_name") != config.from_name or not isinstance(value, dict):  # type: ignore[union-attr]
                continue
            for path in value.get("taxonomy") or []:
                if isinstance(path, list) and tuple(path) in label_of and label_of[tuple(path)] not in chosen:
                    chosen.append(label_of[tuple(path)])
        return [label for label in config.labels if label in chosen]
    for region in result or []:
        if not isinstance(region, dict):
            continue
        if region.get("from_name") != config.from_name or region.get("type", "choices") != "choices":
            continue
        value = region.get("value")
        if not isinstance(value, dict):
            continue
        for choice in value.get("choices") or []:
            if isinstance(choice, str) and choice in config.labels and choice not in chosen:
                chosen.append(choice)
    return [label for label in config.labels if label in chosen]
