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
from tests.factories import TEXT_CONFIG

GOOD = ["great", "lovely", "excellent", "wonderful", "superb"]
BAD = ["awful", "terrible", "horrible", "dreadful", "poor"]
SKIP = {"bald"}  # needs MC dropout: the text learner has none, so the service falls back (checked below)


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


@pytest.mark.parametrize("name", [n for n in get_registry("strategies").names() if n not in SKIP] + ["bald"])
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
