"""Hypothesis on the label-config parser: any text gives a LabelConfig or UnsupportedLabelConfig, never
another exception; generated valid configs parse to the labels they hold; /setup never answers 500."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelsieve.labelconfig import LabelConfig, UnsupportedLabelConfig, parse_label_config
from tests.factories import setup_payload

TAGS = ["View", "Image", "Text", "Choices", "Choice", "Header", "Labels", "Label", "RectangleLabels", "Audio",
        "Style", "TextArea", "!--", "Relations"]
ATTRS = ["name", "toName", "value", "choice", "alias", "background", "showInline"]
NAMES = st.sampled_from(["image", "text", "label", "x", "", "$image", "a,b", "\u00e9t\u00e9", "&amp;"])
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attrs, kids: f"<{tag}{''.join(f' {k}={quoteattr(v)}' for k, v in attrs.items())}>"
                                 f"{''.join(kids)}</{tag}>",
        st.sampled_from(TAGS[:-2]), st.dictionaries(st.sampled_from(ATTRS), NAMES, max_size=4),
        st.lists(children, max_size=4))


XMLISH = st.recursive(st.text(max_size=20), _element, max_leaves=20)
XML_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(escape)
WELL_FORMED = st.recursive(XML_TEXT, _element, max_leaves=12)
SOUP = st.lists(st.one_of(st.sampled_from(["<", ">", "</", "/>", "=", '"', "<!DOCTYPE x [<!ENTITY a 'b'>]>",
                                           "&a;", "<![CDATA[", "]]>", "<?xml version='1.0'?>", "\x00"]),
                          st.sampled_from(TAGS), st.sampled_from(ATTRS), st.text(max_size=8)), max_size=40).map("".join)


def _parse_or_refuse(text: str) -> LabelConfig | None:
    try:
        return parse_label_config(text)
    except UnsupportedLabelConfig as exc:
        message = str(exc)
        assert message and len(message) < 2000 and "Traceback" not in message
        return None


@FUZZ
@given(st.one_of(st.text(max_size=300), SOUP, XMLISH))
def test_any_text_is_a_config_or_a_clear_refusal(text: str) -> None:
    config = _parse_or_refuse(text)
    if config is not None:
        assert len(config.labels) >= 2 and config.kind in ("image", "text") and config.data_key


@FUZZ
@given(kind=st.sampled_from(["Image", "Text"]),
       labels=st.lists(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() and "\x00" not in s
                                                               and all(ord(c) >= 32 for c in s)),
                       min_size=2, max_size=8, unique=True),
       multiple=st.booleans(), extra=st.lists(WELL_FORMED.filter(lambda s: "Choices" not in s), max_size=2))
def test_generated_valid_configs_parse_to_their_labels(kind, labels, multiple, extra) -> None:
    choices = "".join(f"<Choice value={quoteattr(label)}/>" for label in labels)
    mode = ' choice="multiple"' if multiple else ""
    xml = (f'<View><{kind} name="obj" value="$data"/>{"".join(extra)}'
           f'<Choices name="ctl" toName="obj"{mode}>{choices}</Choices></View>')
    config = _parse_or_refuse(xml)
    assert config is not None, (xml, _why(xml))  # well-formed siblings never change the answer
    assert config.labels == tuple(labels) and config.multiple == multiple
    assert (config.from_name, config.to_name, config.data_key, config.kind) == ("ctl", "obj", "data", kind.lower())


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'fuzz-setup.sqlite3'}"


def test_setup_never_answers_500(client_factory) -> None:
    seen: dict[int, int] = {}
    with client_factory(start_workers=False) as client:
        @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(st.one_of(SOUP, XMLISH), st.one_of(st.none(), st.text(max_size=40),
                                                  st.dictionaries(st.text(max_size=10), st.integers())))
        def run(config: str, extra: object) -> None:
            response = client.post("/setup", json=setup_payload(11, config, extra))
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code in (200, 400, 422), response.text
            if response.status_code != 200:
                assert response.json()["detail"]

        run()
    assert sum(seen.values()) >= 150 and seen.get(400, 0) > 0


def _why(xml: str) -> str:
    try:
        parse_label_config(xml)
    except UnsupportedLabelConfig as exc:
        return str(exc)
    return "parsed"
