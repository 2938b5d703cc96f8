"""The service ranks a text project with every registered strategy, without falling back."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.inputs import InputLoader
from labelsieve.labelconfig import parse_label_config
from labelsieve.learners.text import TextLearner
from labelsieve.registry import get_registries, get_registry
from labelsieve.service.pool_inputs import tasks_inputs
from labelsieve.service.project_settings import ProjectSettings
from labelsieve.service.ranking import rank_pool
from labelsieve.storage.models import Task
from labelsieve.tasktypes import get_task_type
from tests.factories import TEXT_CONFIG

GOOD = ["great", "lovely", "excellent", "wonderful", "superb"]
BAD = ["awful", "terrible", "horrible", "dreadful", "poor"]
SKIP = {"bald"}  # needs MC dropout: the text learner has none, so the service falls back (checked below)
SINGLE = get_task_type("single_label")
MULTI = get_task_type("multi_label")
#: strategies /setup lets a single-label project use (the multi-label ones are refused there: tests/tasktypes)
SERVED = [n for n in get_registry("strategies").names() if SINGLE.supports(get_registry("strategies").create(n))]


def project(seed: int = 0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(70):
        good = i % 2 == 0
        words = list(rng.choice(GOOD if good else BAD, size=3)) + list(rng.choice(GOOD + BAD, size=1))
        texts.append(" ".join(words) + f" film {i}")
        labels.append("Positive" if good else "Negative")
    learner = TextLearner(svd_components=8).fit(texts[:20], labels[:20])
    pool = [Task(id=1000 + i, project_id=1, data={"text": t}) for i, t in enumerate(texts[20:])]
    loader = InputLoader(config=parse_label_config(TEXT_CONFIG), input_kind="text", fetcher=None)
    return learner, texts[:20], labels[:20], pool, loader


@pytest.fixture(scope="module")
def text_project():
    return project()


@pytest.mark.parametrize("name", [n for n in SERVED if n not in SKIP] + ["bald"])
def test_service_ranks_with_every_strategy(name: str, text_project) -> None:
    learner, labeled, labels, pool, loader = text_project
    settings = ProjectSettings(strategy=name, batch_size=6)
    round_row, ranking = rank_pool(project_id=1, version="v1", learner=learner, pool=tasks_inputs(pool, loader),
                                   labeled_inputs=labeled, labeled_y=labels, settings=settings,
                                   registries=get_registries(), seed=3)
    rows = ranking.entries()
    if name in SKIP:
        assert round_row.strategy.startswith("least_confidence (fallback: StrategyRequirementError")
    else:
        assert round_row.strategy == name
    assert len(rows) == len(pool) and len(round_row.batch) == 6
    assert sorted(r.rank for r in rows) == list(range(len(pool)))
    assert len(set(round_row.batch)) == 6 and set(round_row.batch) <= {t.id for t in pool}


@pytest.mark.parametrize("name", [n for n in get_registry("strategies").names()
                                  if MULTI.supports(get_registry("strategies").create(n))])
def test_service_ranks_a_multi_label_project_with_every_strategy_that_serves_it(name: str) -> None:
    from labelsieve.learners.multilabel import MultiLabelLearner

    rng = np.random.default_rng(0)
    words = {"a": ["apple", "apricot"], "b": ["bread", "butter"], "c": ["cheese", "cream"]}
    sets = [tuple(sorted(rng.choice(list(words), size=int(rng.integers(1, 3)), replace=False).tolist()))
            for _ in range(60)]
    texts = [" ".join(str(rng.choice(words[label])) for label in s) + f" item {i}" for i, s in enumerate(sets)]
    learner = MultiLabelLearner(base="text", base_params={"svd_components": 8}).fit(texts[:20], sets[:20])
    pool = [Task(id=1000 + i, project_id=1, data={"text": t}) for i, t in enumerate(texts[20:])]
    loader = InputLoader(config=parse_label_config(TEXT_CONFIG), input_kind="text", fetcher=None)
    round_row, ranking = rank_pool(project_id=1, version="v1", learner=learner, pool=tasks_inputs(pool, loader),
                                   labeled_inputs=texts[:20], labeled_y=sets[:20],
                                   settings=ProjectSettings(strategy=name, batch_size=6), registries=get_registries(),
                                   seed=3, task_type=MULTI)
    assert round_row.strategy == name, "no fallback"
    assert len(ranking) == len(pool) and len(set(round_row.batch)) == 6
    assert all(set(entry.labels) <= {"a", "b", "c"} for entry in ranking.entries())
