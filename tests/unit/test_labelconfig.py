from __future__ import annotations

import pytest

from labelsieve.labelconfig import UnsupportedLabelConfig, labels_from_result, parse_label_config
from tests.factories import IMAGE_CONFIG, TEXT_CONFIG


def test_image_config_is_parsed() -> None:
    config = parse_label_config(IMAGE_CONFIG)
    assert (config.from_name, config.to_name, config.data_key, config.kind) == ("label", "image", "image", "image")
    assert config.labels == tuple(str(d) for d in range(10))
    assert config.multiple is False


def test_text_config_is_parsed() -> None:
    config = parse_label_config(TEXT_CONFIG)
    assert (config.from_name, config.to_name, config.data_key, config.kind) == ("sentiment", "text", "text", "text")
    assert config.labels == ("Positive", "Negative")


def test_multiple_choice_is_recognised() -> None:
    config = parse_label_config(TEXT_CONFIG.replace('choice="single"', 'choice="multiple"'))
    assert config.multiple is True


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("", "empty"),
        ("<View><Image", "not well-formed"),
        ('<View><Image name="i" value="$i"/><RectangleLabels name="b" toName="i"><Label value="a"/>'
         "</RectangleLabels></View>", "no <Choices> control"),
        ('<View><Audio name="a" value="$a"/><Choices name="c" toName="a"><Choice value="x"/><Choice value="y"/>'
         "</Choices></View>", "<Audio> tag, which is not supported"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="x"/></Choices></View>',
         "at least 2"),
        ('<View><Text name="t" value="$t"/><Choices name="c" toName="nothing"><Choice value="x"/>'
         '<Choice value="y"/></Choices></View>', "no object tag named 'nothing'"),
    ],
)
def test_unsupported_configs_say_what_is_supported(xml: str, message: str) -> None:
    with pytest.raises(UnsupportedLabelConfig) as info:
        parse_label_config(xml)
    assert message in str(info.value)


def test_entity_expansion_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><View>&a;</View>'
    with pytest.raises(UnsupportedLabelConfig):
        parse_label_config(bomb)


def test_labels_from_result_reads_only_our_control() -> None:
    config = parse_label_config(TEXT_CONFIG)
    result = [
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Negative"]}},
        {"from_name": "other", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}},
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Unknown"]}},
    ]
    assert labels_from_result(result, config) == ["Negative"]
