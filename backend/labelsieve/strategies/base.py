"""The query-strategy contract. These docstrings are the plugin author's documentation.

Write a strategy
----------------
Subclass :class:`QueryStrategy`, store keyword parameters in ``__init__`` (nothing else), and
implement :meth:`QueryStrategy.score`::

    class Margin(QueryStrategy):
        '''Smallest gap between the two most probable classes first.'''

        def score(self, ctx: PoolContext) -> np.ndarray:
            top2 = np.sort(ctx.probas, axis=1)[:, -2:]
            return -(top2[:, 1] - top2[:, 0])

``score`` returns one finite float per pool item, **higher = label sooner**. Batch-aware
strategies (core-set, BADGE, cluster-margin...) also override :meth:`QueryStrategy.select`, which
returns the indices (into the pool) of the next ``n`` items in the order they should be labelled.
Randomness comes only from ``ctx.rng``. Validate parameters in :meth:`QueryStrategy.check` (called at
``/setup``, so a bad project setting is refused there), not in ``__init__``. Register the class under the
entry-point group ``labelsieve.strategies`` of your package and check it with
:func:`labelsieve.testing.check_strategy`.

Label Studio serves the *lowest* prediction score first; the backend maps the final ranking to
scores itself, so strategies never think about Label Studio's direction.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from labelsieve.params import constructor_params
from labelsieve.tasktypes.base import ANY_TASK_TYPE

__all__ = ["ANY_TASK_TYPE", "PoolContext", "QueryStrategy", "StrategyRequirementError",
           "full_ranking", "top_n"]


class StrategyRequirementError(ValueError):
    """The context lacks what this strategy needs (e.g. MC-dropout samples, labelled data)."""


@dataclass(frozen=True, eq=False)
class PoolContext:
    """Everything a strategy may look at, frozen; new fields only ever get defaults.

    Arrays are computed lazily from ``learner`` when not given, and cached, so a strategy that
    does not need embeddings never pays for them.

    Attributes
    ----------
    pool:
        The unlabelled inputs (texts, images or vectors), length ``n_pool``.
    learner:
        The fitted learner (``predict_proba``, ``embed``, ``classes_``), or ``None`` before the
        first model exists (cold start: only label-free strategies can score).
    rng:
        The only source of randomness allowed.
    labeled:
        The labelled inputs, aligned with ``labeled_y``.
    labeled_y:
        Class indices into ``classes`` of the labelled inputs.
    classes:
        Class names; columns of ``probas``.
    ids:
        Caller's ids of the pool items (Label Studio task ids), informational.
    prequential_accuracy:
        How good the project's models have become, from its own labels: the best share of 30 consecutive labels
        that the model serving then had predicted right before the task was labelled
        (:mod:`labelsieve.service.signals`), or ``None`` before 5 such labels. For strategies that adapt.
    """

    pool: Sequence[Any]
    learner: Any | None
    rng: np.random.Generator
    labeled: Sequence[Any] = ()
    labeled_y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    classes: tuple[str, ...] = ()
    ids: np.ndarray | None = None
    pool_probas: np.ndarray | None = None
    pool_embeddings: np.ndarray | None = None
    labeled_embeddings_given: np.ndarray | None = None
    mc_samples: int = 10
    prequential_accuracy: float | None = None
    #: the project's task type (:mod:`labelsieve.tasktypes`): ``"single_label"`` (``probas`` rows are class
    #: distributions) or e.g. ``"multi_label"`` (``probas`` columns are independent per-label probabilities)
    task_type: str = "single_label"
    #: per-label decision thresholds of a multi-label model (``n_classes``), else None
    thresholds: np.ndarray | None = None
    #: ``(n_labeled, n_classes)`` 0/1 label sets of the labelled inputs (multi-label), else None
    labeled_targets: np.ndarray | None = None
    #: ``(n_pool,)`` the task type's default per-region -> per-task uncertainty (higher = label sooner), when the
    #: host computed it (:meth:`labelsieve.tasktypes.TaskType.task_uncertainty`); None otherwise
    task_uncertainty: np.ndarray | None = None
    #: region task types: the learner's per-task outputs (boxes: ``Detections``) from the host's ranking pass, so a
    #: strategy that needs them does not run the model over the pool again; None when the host did not compute them
    pool_regions: Sequence[Any] | None = None
    #: boxes: the MC-dropout disagreement the host's ranking pass computed for a strategy that asked for it
    #: (:class:`labelsieve.detection.dropout.DropoutScores`), else None
    pool_dropout: Any = None

    @property
    def n_pool(self) -> int:
        return len(self.pool) if self.pool_embeddings is None else int(self.pool_embeddings.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def require_learner(self, who: str) -> Any:
        if self.learner is None:
            raise StrategyRequirementError(f"{who} needs a fitted model; none is trained yet")
        return self.learner

    @cached_property
    def probas(self) -> np.ndarray:
        """``(n_pool, n_classes)`` class probabilities of the pool under the current model."""
        if self.pool_probas is not None:
            return self.pool_probas
        learner = self.require_learner("this strategy")
        if self.n_pool == 0:
            return np.zeros((0, len(self.classes)))
        return np.asarray(learner.predict_proba(self.pool), dtype=np.float64)

    @cached_property
    def embeddings(self) -> np.ndarray:
        """``(n_pool, d)`` embeddings of the pool (the model's representation)."""
        if self.pool_embeddings is not None:
            return self.pool_embeddings
        learner = self.require_learner("this strategy")
        if self.n_pool == 0:
            return np.zeros((0, 1), dtype=np.float32)
        return np.asarray(learner.embed(self.pool), dtype=np.float32)

    @cached_property
    def labeled_embeddings(self) -> np.ndarray:
        """``(n_labeled, d)`` embeddings of the labelled inputs."""
        if self.labeled_embeddings_given is not None:
            return self.labeled_embeddings_given
        if len(self.labeled) == 0:
            return np.zeros((0, self.embeddings.shape[1] if self.n_pool else 1), dtype=np.float32)
        learner = self.require_learner("this strategy")
        return np.asarray(learner.embed(self.labeled), dtype=np.float32)

    @cached_property
    def _draws(self) -> dict[Hashable, Any]:
        return {}

    def drawn_once(self, key: Hashable, draw: Callable[[np.random.Generator], Any]) -> Any:
        """``draw(self.rng)`` the first time ``key`` is asked for on this context, the same value after.

        For random choices a strategy makes in both ``score`` and ``select`` (a subsample, a projection):
        :func:`full_ranking` calls both on one context, and they must see the same draw."""
        if key not in self._draws:
            self._draws[key] = draw(self.rng)
        return self._draws[key]

    def mc_probas(self, n_samples: int | None = None) -> np.ndarray:
        """``(n_samples, n_pool, n_classes)`` Monte-Carlo dropout probabilities.

        Raises :class:`StrategyRequirementError` when the learner has no stochastic passes.
        """
        learner = self.require_learner("MC dropout")
        if not getattr(learner, "supports_mc_dropout", False):
            raise StrategyRequirementError(
                f"{type(learner).__name__} has no MC-dropout passes (use a torch learner)"
            )
        seed = int(self.rng.integers(0, 2**31 - 1))
        return np.asarray(learner.predict_proba_samples(self.pool, n_samples or self.mc_samples, seed))


class QueryStrategy:
    """Base class of every strategy (see the module docstring for the contract).

    Class attributes a strategy may set (shown by ``labelsieve strategies``):

    - ``batch_aware``: ``select`` does more than take the top ``n`` scores;
    - ``needs_model``: ``score`` needs a fitted learner (False for random / cold-start);
    - ``category``: ``"uncertainty" | "diversity" | "hybrid" | "cold-start" | "value" | "baseline" | "wrapper"``;
    - ``task_types``: the task types (:mod:`labelsieve.tasktypes`) it serves, ``("*",)`` for all; ``/setup``
      refuses a project whose task type is not among them. Wrappers answer with ``members_task_types()``.
    """

    task_types: ClassVar[tuple[str, ...]] = ("single_label",)
    batch_aware: ClassVar[bool] = False
    needs_model: ClassVar[bool] = True
    category: ClassVar[str] = "uncertainty"

    def score(self, ctx: PoolContext) -> np.ndarray:
        """One finite float per pool item; higher = label sooner."""
        raise NotImplementedError

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        """Indices of the next ``min(n, n_pool)`` items to label, best first.

        The default takes the top ``n`` of :meth:`score`, breaking ties at random with
        ``ctx.rng``. Batch-aware strategies override this.
        """
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        scores = np.asarray(self.score(ctx), dtype=np.float64)
        return top_n(scores, n, ctx.rng)

    def check(self) -> None:
        """Raise ``ValueError`` (or the registry's ``UnknownPluginError`` for a strategy named in the parameters)
        when the parameters cannot work. Called at ``/setup``, so a bad project setting is refused there with the
        message; the default accepts anything."""

    # --------------------------------------------------- scikit-learn style params
    @classmethod
    def param_names(cls) -> list[str]:
        return list(constructor_params(cls))

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        return constructor_params(cls)

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({args})"


def top_n(scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``n`` largest scores, largest first, ties broken by ``rng``."""
    n = min(int(n), scores.shape[0])
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    tiebreak = rng.random(scores.shape[0])
    if n < scores.shape[0] // 2:
        candidates = np.argpartition(-scores, n - 1)[:n]
        # widen to every item tied with the n-th score so the random tie-break is fair
        threshold = scores[candidates].min()
        candidates = np.flatnonzero(scores >= threshold)
    else:
        candidates = np.arange(scores.shape[0])
    order = np.lexsort((-tiebreak[candidates], -scores[candidates]))
    return candidates[order[:n]].astype(np.int64)


def full_ranking(strategy: QueryStrategy, ctx: PoolContext, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The order to label the whole pool in, and each item's utility score.

    The first ``batch_size`` come from :meth:`QueryStrategy.select` (batch-aware order); the rest
    follow by descending :meth:`QueryStrategy.score`.
    """
    n_pool = ctx.n_pool
    if n_pool == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    scores = np.asarray(strategy.score(ctx), dtype=np.float64)
    head = np.asarray(strategy.select(ctx, min(batch_size, n_pool)), dtype=np.int64)
    rest_mask = np.ones(n_pool, dtype=bool)
    rest_mask[head] = False
    rest = np.flatnonzero(rest_mask)
    tiebreak = ctx.rng.random(rest.shape[0])
    rest = rest[np.lexsort((-tiebreak, -scores[rest]))]
    return np.concatenate([head, rest]), scores
