"""balance_aware wraps a base strategy by name and lifts tasks predicted to be in rare classes."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.registry import get_registry
from labelsieve.strategies.base import PoolContext, full_ranking


def context(probas: np.ndarray, labeled_y: list[int]) -> PoolContext:
    return PoolContext(pool=list(range(len(probas))), learner=None, rng=np.random.default_rng(0),
                       labeled_y=np.asarray(labeled_y), classes=("common", "rare"), pool_probas=probas)


PROBAS = np.array([
    [0.52, 0.48],  # most uncertain, predicted common
    [0.47, 0.53],  # nearly as uncertain, predicted rare
    [0.60, 0.40],
    [0.35, 0.65],  # predicted rare
    [0.95, 0.05],
    [0.10, 0.90],  # confidently rare: margin sampling puts it near the end
])
LABELED = [0] * 40 + [1] * 2
PREDICTED_RARE = (1, 3, 5)


def test_balance_aware_raises_the_rank_of_predicted_minority_tasks() -> None:
    margin = get_registry("strategies").create("margin", {})
    plain = list(full_ranking(margin, context(PROBAS, LABELED), batch_size=6)[0])
    aware = list(full_ranking(get_registry("strategies").create("balance_aware", {"base": "margin"}),
                              context(PROBAS, LABELED), batch_size=6)[0])
    assert plain == [0, 1, 2, 3, 5, 4]
    assert all(aware.index(i) <= plain.index(i) for i in PREDICTED_RARE)
    assert aware.index(5) < plain.index(5) and aware.index(2) > plain.index(2)
    strong = list(full_ranking(get_registry("strategies").create("balance_aware", {"base": "margin", "weight": 0.9}),
                               context(PROBAS, LABELED), batch_size=6)[0])
    assert set(strong[:3]) == set(PREDICTED_RARE)


def test_weight_zero_keeps_the_base_order_and_balanced_labels_change_nothing() -> None:
    margin = get_registry("strategies").create("margin", {})
    plain, _ = full_ranking(margin, context(PROBAS, LABELED), batch_size=6)
    off, _ = full_ranking(get_registry("strategies").create("balance_aware", {"weight": 0.0}),
                          context(PROBAS, LABELED), batch_size=6)
    assert list(off) == list(plain)
    even, _ = full_ranking(get_registry("strategies").create("balance_aware", {"weight": 0.5}),
                           context(PROBAS, [0] * 20 + [1] * 20), batch_size=6)
    assert list(even) == list(plain)


def test_balance_aware_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="weight must be in"):
        get_registry("strategies").create("balance_aware", {"weight": 2.0}).score(context(PROBAS, LABELED))
    with pytest.raises(ValueError, match="cannot wrap itself"):
        get_registry("strategies").create("balance_aware", {"base": "balance_aware"}).score(context(PROBAS, LABELED))
    with pytest.raises(Exception, match="no_such_strategy"):
        get_registry("strategies").create("balance_aware", {"base": "no_such_strategy"}).score(context(PROBAS, LABELED))
