"""``<Taxonomy>`` as multi-label classification over its leaves.

A leaf is a label; Label Studio's result holds paths (``{"taxonomy": [["Animal", "Cat"], ["Plant"]]}``), so each
label keeps its path. Two leaves with one name under different parents would be one label to the model: refused
with a message, like a taxonomy a user may extend in the editor (``userLabels``), whose labels the model could not
know.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from labelsieve.labelconfig import OBJECT_KINDS, LabelConfig, UnsupportedLabelConfig


def taxonomy_element(xml: str) -> Element | None:
    root = SafeET.fromstring(xml)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() == "taxonomy":
            return el
    return None


def _leaves(node: Element, path: tuple[str, ...], out: list[tuple[str, ...]]) -> None:
    children = [c for c in node if isinstance(c.tag, str) and c.tag.lower() == "choice"]
    for child in children:
        value = child.get("value") or child.get("alias")
        if not value:
            raise UnsupportedLabelConfig("a <Choice> inside <Taxonomy> has no value attribute")
        sub = [c for c in child if isinstance(c.tag, str) and c.tag.lower() == "choice"]
        if sub:
            _leaves(child, (*path, value), out)
        else:
            out.append((*path, value))


def parse_taxonomy(xml: str) -> LabelConfig:
    root = SafeET.fromstring(xml)
    tax = taxonomy_element(xml)
    assert tax is not None
    from_name, to_name = tax.get("name"), tax.get("toName")
    if not from_name or not to_name:
        raise UnsupportedLabelConfig("the <Taxonomy> control needs both name and toName attributes")
    if (tax.get("userLabels") or "").lower() == "true":
        raise UnsupportedLabelConfig(f'<Taxonomy name={from_name!r} userLabels="true"> lets annotators add labels '
                                     "the model cannot know; remove userLabels to use labelsieve")
    targets = [el for el in root.iter() if el.get("name") == to_name and el is not tax]
    kind = OBJECT_KINDS.get(targets[0].tag.lower()) if targets else None
    value = (targets[0].get("value") or "").strip() if targets else ""
    if kind is None or not value.startswith("$"):
        raise UnsupportedLabelConfig(f"<Taxonomy toName={to_name!r}> must label an <Image> or <Text> tag with a "
                                     "$variable value")
    paths: list[tuple[str, ...]] = []
    _leaves(tax, (), paths)
    names = [p[-1] for p in paths]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UnsupportedLabelConfig(f"<Taxonomy name={from_name!r}> has leaves named {repeated} under several "
                                     "parents; labelsieve flattens a taxonomy to its leaves, so leaf names must "
                                     "be unique")
    if len(paths) < 2:
        raise UnsupportedLabelConfig(f"<Taxonomy name={from_name!r}> has {len(paths)} leaf label(s); need 2")
    return LabelConfig(from_name=from_name, to_name=to_name, data_key=value[1:], kind=kind, labels=tuple(names),
                       multiple=True, control="taxonomy", paths=tuple(paths))
