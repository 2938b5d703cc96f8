"""The rating type's context for labelsieve's conformance kit: ``register()`` adds it to
``labelsieve.testing.CONTEXT_FACTORIES``, then ``check_task_types(strategy)`` checks every strategy that declares
``rating`` (or ``"*"``) on it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from labelsieve.strategies.base import PoolContext
from labelsieve_rating.learner import RatingLearner
from labelsieve_rating.tasktype import Rating

WORDS = {1: ["awful", "broken", "refund"], 2: ["poor", "slow", "meh"], 3: ["fine", "okay", "average"],
         4: ["good", "solid", "nice"], 5: ["superb", "perfect", "love"]}


def review(stars: int, rng: np.random.Generator) -> str:
    """A short review whose words lean towards ``stars`` (a neighbouring rating's word now and then)."""
    near = [min(5, max(1, stars + int(d))) for d in rng.choice([-1, 0, 0, 0, 1], size=3)]
    return " ".join(str(rng.choice(WORDS[s])) for s in near)


@lru_cache(maxsize=1)
def _rating_data() -> tuple[Any, list[str], list[str], list[str]]:
    rng = np.random.default_rng(3)
    stars = [int(s) for s in rng.integers(1, 6, size=40)]
    texts = [review(s, rng) for s in stars]
    learner = RatingLearner(base="text", base_params={"embedding_model": None}).fit(texts, [str(s) for s in stars])
    pool = [review(int(s), rng) + f" #{i}" for i, s in enumerate(rng.integers(1, 6, size=90))]
    return learner, texts, [str(s) for s in stars], pool


def rating_context(n_pool: int, seed: int) -> PoolContext:
    """A fitted rating learner on 40 reviews, ``n_pool`` (<= 90) unlabelled ones, and the type's uncertainty."""
    learner, texts, targets, pool = _rating_data()
    items = list(pool[:n_pool])
    return PoolContext(
        pool=items, learner=learner, rng=np.random.default_rng(seed), labeled=list(texts),
        labeled_y=np.zeros(len(texts), dtype=np.int64), classes=tuple(learner.classes_),
        ids=np.arange(n_pool, dtype=np.int64), task_type="rating", labeled_targets=None,
        task_uncertainty=Rating().task_uncertainty(learner.predict_regions(items)),
        pool_embeddings=learner.embed(items) if items else None,
    )


def register() -> None:
    from labelsieve.testing import CONTEXT_FACTORIES

    CONTEXT_FACTORIES.setdefault("rating", rating_context)
