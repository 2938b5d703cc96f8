"""Every (registered strategy, served task type) pair: conforms on that type's context, or is refused by name."""

from __future__ import annotations

import pytest

from labelsieve.registry import get_registry
from labelsieve.tasktypes import get_task_type
from labelsieve.tasktypes.base import UnsupportedTaskType
from labelsieve.testing import CONTEXT_FACTORIES, check_strategy

STRATEGIES = get_registry("strategies").names()
TASK_TYPES = ["single_label", "multi_label"]


@pytest.mark.parametrize("task_type", TASK_TYPES)
@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_serves_the_task_type_or_is_refused_naming_both(name: str, task_type: str) -> None:
    strategy = get_registry("strategies").create(name)
    served = get_task_type(task_type)
    if served.supports(strategy):
        check_strategy(strategy, ctx_factory=CONTEXT_FACTORIES.get(task_type))
    else:
        with pytest.raises(UnsupportedTaskType) as err:
            served.check_strategy(strategy, name)
        assert repr(name) in str(err.value) and repr(task_type) in str(err.value)


def test_multi_label_has_uncertainty_diversity_and_baseline_strategies() -> None:
    multi = get_task_type("multi_label")
    registry = get_registry("strategies")
    served = {name for name in STRATEGIES if multi.supports(registry.create(name))}
    assert {"multilabel_uncertainty", "mmc", "lci", "random", "coreset", "kmeans", "typiclust", "probcover"} <= served
    assert "margin" not in served and "bald" not in served
