"""The task-type contract: discovery from the label config, refusals naming the tags, strategy support."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.registry import get_registry
from labelsieve.tasktypes import TaskType, get_task_type, strategy_task_types, task_type_for
from labelsieve.tasktypes.base import UnsupportedTaskType

SINGLE = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="a"/><Choice value="b"/></Choices></View>')
MULTI = ('<View><Text name="text" value="$text"/><Choices name="tags" toName="text" choice="multiple">'
         '<Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices></View>')
TAXONOMY = ('<View><Text name="text" value="$text"/><Taxonomy name="tax" toName="text">'
            '<Choice value="Animal"><Choice value="Cat"/><Choice value="Dog"/></Choice><Choice value="Plant"/>'
            '</Taxonomy></View>')
MIXED = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
         '<Choice value="a"/><Choice value="b"/></Choices>'
         '<Choices name="tags" toName="text" choice="multiple"><Choice value="x"/><Choice value="y"/></Choices></View>')
UNSERVED = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
            '<Choice value="a"/><Choice value="b"/></Choices><TextArea name="note" toName="text"/></View>')


def test_built_in_task_types_are_registered_through_the_entry_point_group() -> None:
    names = get_registry("task_types").names()
    assert {"single_label", "multi_label"} <= set(names)
    for name in ("single_label", "multi_label"):
        task_type = get_task_type(name)
        assert isinstance(task_type, TaskType) and task_type.name == name
        assert task_type.default_aggregation in task_type.aggregations


def test_discovery_picks_the_type_from_the_config() -> None:
    assert task_type_for(SINGLE).name == "single_label"
    served = task_type_for(MULTI)
    assert served.name == "multi_label" and served.config.labels == ("a", "b", "c")
    tax = task_type_for(TAXONOMY)
    assert tax.name == "multi_label" and tax.config.labels == ("Cat", "Dog", "Plant")
    assert tax.config.paths == (("Animal", "Cat"), ("Animal", "Dog"), ("Plant",))


def test_a_config_mixing_kinds_is_refused_naming_the_tags() -> None:
    with pytest.raises(UnsupportedLabelConfig) as err:
        task_type_for(MIXED)
    message = str(err.value)
    assert "<Choices name='label'>" in message and "<Choices name='tags'>" in message
    assert "single_label" in message and "multi_label" in message


def test_a_control_no_type_serves_is_refused_naming_it() -> None:
    with pytest.raises(UnsupportedLabelConfig, match="TextArea name='note'"):
        task_type_for(UNSERVED)


def test_taxonomy_with_repeated_leaf_names_is_refused() -> None:
    xml = ('<View><Text name="text" value="$text"/><Taxonomy name="tax" toName="text">'
           '<Choice value="A"><Choice value="x"/></Choice><Choice value="B"><Choice value="x"/></Choice>'
           '</Taxonomy></View>')
    with pytest.raises(UnsupportedLabelConfig, match="unique"):
        task_type_for(xml)


def test_strategies_declare_the_task_types_they_serve() -> None:
    strategies = get_registry("strategies")
    assert "*" in strategy_task_types(strategies.create("random"))
    assert "*" in strategy_task_types(strategies.create("coreset"))
    assert strategy_task_types(strategies.create("margin")) == ("single_label",)
    # a wrapper serves what all its members serve
    assert strategy_task_types(strategies.create("prefilter_diversify", {"prefilter": "margin"})) == ("single_label",)
    multi = get_task_type("multi_label")
    with pytest.raises(UnsupportedTaskType) as err:
        multi.check_strategy(strategies.create("margin"), "margin")
    assert "'margin'" in str(err.value) and "'multi_label'" in str(err.value)
    get_task_type("single_label").check_strategy(strategies.create("margin"), "margin")


def test_single_label_targets_and_results_are_the_original_behaviour() -> None:
    single = get_task_type("single_label")
    config = single.parse_config(SINGLE)
    result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["b"]}}]
    assert single.target(result, config) == "b"
    assert single.target([], config) is None
    (output,) = single.decode(np.array([[0.2, 0.8]]), ["a", "b"])
    regions = single.prediction_result(config, output, preannotate=True)
    assert regions == [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["b"]},
                        "score": pytest.approx(0.8)}]
    assert single.prediction_result(config, output, preannotate=False) == []
    unc = single.task_uncertainty(np.array([[0.5, 0.5], [0.9, 0.1]]))
    assert unc[0] > unc[1]


def test_single_label_issues_flag_flipped_labels_with_cleanlab() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 150)
    probas = np.full((150, 3), 0.05)
    probas[np.arange(150), truth] = 0.9
    given = truth.copy()
    flipped = np.arange(0, 150, 15)
    given[flipped] = (given[flipped] + 1) % 3
    labels = ["a", "b", "c"]
    issues = get_task_type("single_label").label_issues([labels[i] for i in given], probas, labels)
    assert set(np.flatnonzero(issues.flagged)) == set(flipped)
    assert issues.suggested[flipped[0]] == labels[truth[flipped[0]]]


def test_class_gauges_count_the_labels_of_any_target_shape() -> None:
    """The retrain counts labels per class for /metrics through the task type: label sets and spans count each label,
    a plain string is one class, and a scalar target (a third party's rating) counts as its text instead of failing
    the retrain."""
    ner = get_task_type("ner")
    assert get_task_type("multi_label").class_names(("cat", "dog")) == ("cat", "dog")
    assert ner.class_names("PER") == ("PER",)
    assert ner.class_names(4) == ("4",)
    assert ner.class_names(2.5) == ("2.5",)
