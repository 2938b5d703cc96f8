"""Conformance checks for strategy plugins: ``check_strategy(MyStrategy)`` in your test suite.

It builds real contexts (a fitted :class:`~labelsieve.learners.vector.VectorLearner` on synthetic
blobs with 3 classes; for strategies that need MC dropout, a small torch image learner on 8x8
digits) and raises :class:`AssertionError` with a readable message when the strategy breaks the
contract of :mod:`labelsieve.strategies.base`.

``labelsieve`` exports :func:`check_strategy`, so the learners (scikit-learn, torch: seconds of CPU) are imported
when a context is first built, not here: ``import labelsieve`` stays as light as the strategy contract. These are
the only function-level ``labelsieve`` imports (``tests/unit/test_layers.py`` allows exactly these).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.uncertainty import pool_uncertainty
from labelsieve.learners.spans import CrfSpanLearner
from labelsieve.spans.bio import Span
from labelsieve.spans.targets import SpanTarget
from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy, StrategyRequirementError
from labelsieve.tasktypes.classification import MultiLabel, SingleLabel
from labelsieve.tasktypes.ner import NamedEntities

ContextFactory = Callable[[int, int], PoolContext]
N_POOL = 90


def _least_confidence(learner: Any, pool: Any) -> np.ndarray:
    """What the host gives a single-label pool as ``ctx.task_uncertainty`` (``SingleLabel``'s default)."""
    return SingleLabel().task_uncertainty(learner.predict_proba(list(pool)) if len(pool) else np.zeros((0, 1)))


@lru_cache(maxsize=1)
def _vector_data() -> tuple[Any, np.ndarray, list[str], np.ndarray]:
    from sklearn.datasets import make_blobs

    from labelsieve.learners.vector import VectorLearner  # heavy (scikit-learn): see the module docstring

    x, y = make_blobs(n_samples=30 + N_POOL, centers=3, n_features=8, cluster_std=2.5, random_state=0)
    x = x.astype(np.float32)
    names = [f"c{label}" for label in y]
    learner = VectorLearner().fit(list(x[:30]), names[:30])
    return learner, x[:30], names[:30], x[30:]


def vector_context(n_pool: int, seed: int) -> PoolContext:
    """A fitted vector learner on 3 blobs, ``n_pool`` (<= 90) unlabelled items, 30 labelled."""
    learner, labeled, names, pool = _vector_data()
    classes = tuple(learner.classes_)
    return PoolContext(
        pool=list(pool[:n_pool]), learner=learner, rng=np.random.default_rng(seed), labeled=list(labeled),
        labeled_y=np.array([classes.index(name) for name in names], dtype=np.int64), classes=classes,
        ids=np.arange(n_pool, dtype=np.int64), task_uncertainty=_least_confidence(learner, pool[:n_pool]),
    )


@lru_cache(maxsize=1)
def _image_data() -> tuple[Any, list[np.ndarray], list[str], list[np.ndarray]]:
    import torch
    from sklearn.datasets import load_digits

    from labelsieve.learners.image import ImageLearner  # heavy (torch): see the module docstring

    digits = load_digits()
    images = [(img * 15.9).astype(np.uint8) for img in digits.images[:240]]
    names = [str(t) for t in digits.target[:240]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        learner = ImageLearner(image_size=16, epochs=2, augment=None).fit(images[:150], names[:150])
    finally:
        torch.set_num_threads(threads)
    return learner, images[:150], names[:150], images[150:]


def image_context(n_pool: int, seed: int) -> PoolContext:
    """A small torch image learner (MC dropout) on 8x8 digits, ``n_pool`` (<= 90) unlabelled items."""
    learner, labeled, names, pool = _image_data()
    classes = tuple(learner.classes_)
    return PoolContext(
        pool=pool[:n_pool], learner=learner, rng=np.random.default_rng(seed), labeled=labeled,
        labeled_y=np.array([classes.index(name) for name in names], dtype=np.int64), classes=classes,
        ids=np.arange(n_pool, dtype=np.int64), mc_samples=4, task_uncertainty=_least_confidence(learner, pool[:n_pool]),
    )


@lru_cache(maxsize=1)
def _multilabel_data() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_multilabel_classification

    from labelsieve.learners.multilabel import MultiLabelLearner  # heavy (scikit-learn): see the module docstring

    x, y = make_multilabel_classification(n_samples=40 + N_POOL, n_features=8, n_classes=4, n_labels=2,
                                          allow_unlabeled=False, random_state=0)
    x = x.astype(np.float32)
    names = [tuple(f"l{j}" for j in np.flatnonzero(row)) for row in y[:40]]
    learner = MultiLabelLearner(base="vector").fit(list(x[:40]), names)
    return learner, x[:40], y[:40], x[40:]


def multilabel_context(n_pool: int, seed: int) -> PoolContext:
    """A fitted one-vs-rest multi-label learner on 4 labels, ``n_pool`` (<= 90) unlabelled items, 40 labelled."""
    learner, labeled, targets, pool = _multilabel_data()
    return PoolContext(
        pool=list(pool[:n_pool]), learner=learner, rng=np.random.default_rng(seed), labeled=list(labeled),
        labeled_y=np.zeros(len(labeled), dtype=np.int64), classes=tuple(learner.classes_),
        ids=np.arange(n_pool, dtype=np.int64), task_type="multi_label", thresholds=learner.thresholds_,
        labeled_targets=np.asarray(targets),
        task_uncertainty=MultiLabel().task_uncertainty(
            (learner.predict_proba(list(pool[:n_pool])), learner.thresholds_)),
    )


_NAMES = ("Alice Smith", "Bo Chen", "Carla Diaz", "Dev Patel", "Emma Stone", "Farid Khan")
_PLACES = ("Paris", "Lagos", "Osaka", "Lima", "Oslo", "Quito")
_FILLERS = ("visited", "flew to", "wrote about", "left")


def _span_sentence(rng: np.random.Generator) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    name, place = _NAMES[rng.integers(len(_NAMES))], _PLACES[rng.integers(len(_PLACES))]
    verb = _FILLERS[rng.integers(len(_FILLERS))]
    if rng.random() < 0.25:  # sentences with no entity: the no-region rule is part of what is checked
        return f"nobody {verb} anything today", ()
    text = f"{name} {verb} {place} yesterday"
    start = len(name) + len(verb) + 2
    return text, ((0, len(name), "person"), (start, start + len(place), "place"))


@lru_cache(maxsize=1)
def _ner_data() -> tuple[Any, list[str], list[Any], list[str]]:
    rng = np.random.default_rng(7)
    labelled = [_span_sentence(rng) for _ in range(40)]
    texts = [text for text, _ in labelled]
    targets = [SpanTarget(tuple((Span(a, b, label), text[a:b]) for a, b, label in spans), text)
               for text, spans in labelled]
    learner = CrfSpanLearner(max_iterations=30).fit(texts, targets)
    pool = [_span_sentence(rng)[0] + f" #{i}" for i in range(90)]
    return learner, texts, targets, pool


def ner_context(n_pool: int, seed: int) -> PoolContext:
    """A fitted CRF on 40 short sentences (person, place, some with no entity), ``n_pool`` (<= 90) unlabelled
    sentences, and the ``ner`` task type's per-task uncertainty (its default aggregation)."""
    learner, texts, targets, pool = _ner_data()
    items = list(pool[:n_pool])
    return PoolContext(
        pool=items, learner=learner, rng=np.random.default_rng(seed), labeled=list(texts),
        labeled_y=np.zeros(len(texts), dtype=np.int64), classes=tuple(learner.classes_),
        ids=np.arange(n_pool, dtype=np.int64), task_type="ner", labeled_targets=list(targets),
        task_uncertainty=NamedEntities().task_uncertainty(learner.predict_regions(items)),
    )


@lru_cache(maxsize=1)
def _boxes_data() -> tuple[Any, list[Any], list[Any], list[Any]]:
    import torch

    from labelsieve.detection.learner import DetectorLearner  # heavy (torch): see the module docstring

    data = make_shapes(24 + N_POOL, size=48, seed=5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        learner = DetectorLearner(epochs=1, min_steps=8, image_size=48, device="cpu").fit(
            data.images[:24], data.targets[:24], classes=data.classes)
    finally:
        torch.set_num_threads(threads)
    return learner, data.images[:24], data.targets[:24], data.images[24:]


def boxes_context(n_pool: int, seed: int) -> PoolContext:
    """A detector trained a few steps on 24 generated shapes images, ``n_pool`` (<= 90) unlabelled images, and the
    ``boxes`` task type's per-image uncertainty (its default aggregation, the sum)."""
    learner, images, targets, pool = _boxes_data()
    items = list(pool[:n_pool])
    return PoolContext(
        pool=items, learner=learner, rng=np.random.default_rng(seed), labeled=list(images),
        labeled_y=np.full(len(images), -1, dtype=np.int64), classes=tuple(learner.classes_),
        ids=np.arange(n_pool, dtype=np.int64), task_type="boxes", labeled_targets=list(targets),
        task_uncertainty=pool_uncertainty(learner.predict_regions(items)),
    )


#: the context each task type's conformance run uses; a task type's package adds its own
CONTEXT_FACTORIES: dict[str, ContextFactory] = {"multi_label": multilabel_context, "ner": ner_context,
                                                "boxes": boxes_context}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _pick_factory(strategy: QueryStrategy, name: str) -> ContextFactory:
    try:
        strategy.score(vector_context(12, 0))
        return vector_context
    except StrategyRequirementError as exc:
        first = exc
    try:
        strategy.score(image_context(12, 0))
        return image_context
    except StrategyRequirementError as exc:
        raise AssertionError(f"{name} cannot score the vector context ({first}) nor the MC-dropout image "
                             f"context ({exc})") from exc


def check_task_types(strategy_or_cls: QueryStrategy | type[QueryStrategy]) -> list[str]:
    """Run :func:`check_strategy` once per task type the strategy declares (``task_types``; wrappers: their
    members'), on that type's context (:data:`CONTEXT_FACTORIES`; ``single_label`` the default ones). ``"*"``
    means every type with a context here. Returns the types checked; a declared type with no context fails."""
    strategy = strategy_or_cls() if isinstance(strategy_or_cls, type) else strategy_or_cls
    members = getattr(strategy, "members_task_types", None)
    declared = tuple(members() if callable(members) else getattr(strategy, "task_types", ("single_label",)))
    known = ["single_label", *CONTEXT_FACTORIES]
    types = known if ANY_TASK_TYPE in declared else list(declared)
    for task_type in types:
        _check(task_type in known, f"{type(strategy).__name__} declares task type {task_type!r}, which has no "
                                   f"conformance context (known: {known}); add one to CONTEXT_FACTORIES")
        check_strategy(strategy, ctx_factory=CONTEXT_FACTORIES.get(task_type))
    return types


def check_strategy(strategy_or_cls: QueryStrategy | type[QueryStrategy], *,
                   ctx_factory: ContextFactory | None = None) -> None:
    """Check a strategy (instance, or class built with default params) against the contract.

    ``ctx_factory(n_pool, seed)`` returns a fresh context; by default a real vector-learner context,
    or an MC-dropout image context for strategies that raise :class:`StrategyRequirementError` on it.
    Checks: a readable repr, params round-trip through the constructor, one finite score per item,
    same seed gives the same scores and selection, ``select`` returns unique valid indices of length
    ``min(n, n_pool)`` (also for ``n`` larger than the pool and ``n = 0``), and the empty pool.
    """
    strategy = strategy_or_cls() if isinstance(strategy_or_cls, type) else strategy_or_cls
    name = type(strategy).__name__
    _check(isinstance(strategy, QueryStrategy), f"{name} is not a QueryStrategy subclass")
    text = repr(strategy)
    _check(text.startswith(name + "(") and " object at 0x" not in text, f"{name} repr is not readable: {text!r}")
    params = strategy.get_params()
    try:
        clone = type(strategy)(**params)
    except TypeError as exc:
        raise AssertionError(f"{name}(**get_params()) fails: {exc}") from exc
    _check(repr(clone) == text, f"{name} params do not round-trip: {text} became {clone!r}")
    defaults = type(strategy).param_defaults()
    if all(value is not None for value in defaults.values()) or not isinstance(strategy_or_cls, QueryStrategy):
        stored = type(strategy)(**defaults).get_params()
        _check(stored == defaults, f"{name} params do not round-trip: constructor arguments {defaults} "
                                   f"are stored as {stored}")
    for attr, kinds in (("batch_aware", (bool,)), ("needs_model", (bool,)), ("category", (str,)),
                        ("task_types", (tuple, list))):
        _check(isinstance(getattr(strategy, attr, None), kinds), f"{name}.{attr} must be a {kinds[0].__name__}")
    _check(bool((type(strategy).__doc__ or "").strip()), f"{name} has no docstring")
    try:
        strategy.check()
    except Exception as exc:  # noqa: BLE001 - any refusal of its own parameters breaks the contract
        raise AssertionError(f"{name}.check() refuses the parameters it was built with: {exc}") from exc

    factory = ctx_factory or _pick_factory(strategy, name)
    n_pool = 40
    scores = np.asarray(strategy.score(factory(n_pool, 7)))
    _check(scores.shape == (n_pool,), f"{name}.score returned shape {scores.shape}, expected ({n_pool},)")
    _check(bool(np.isfinite(scores.astype(np.float64)).all()), f"{name}.score returned non-finite values")
    again = np.asarray(strategy.score(factory(n_pool, 7)))
    _check(np.allclose(scores, again), f"{name}.score differs between two runs with the same seed")

    for n in (5, n_pool, n_pool + 25):
        picks = np.asarray(strategy.select(factory(n_pool, 11), n))
        want = min(n, n_pool)
        _check(picks.shape == (want,), f"{name}.select(n={n}) on {n_pool} items returned {picks.shape[0]}, "
                                       f"expected {want}")
        _check(np.issubdtype(picks.dtype, np.integer), f"{name}.select returned {picks.dtype}, expected integers")
        _check(np.unique(picks).shape[0] == picks.shape[0], f"{name}.select(n={n}) returned duplicates")
        _check(bool(((picks >= 0) & (picks < n_pool)).all()), f"{name}.select(n={n}) returned indices outside "
                                                                f"[0, {n_pool})")
        same = np.asarray(strategy.select(factory(n_pool, 11), n))
        _check(np.array_equal(picks, same), f"{name}.select(n={n}) differs between two runs with the same seed")
    _check(len(strategy.select(factory(n_pool, 3), 0)) == 0, f"{name}.select(n=0) must return nothing")

    empty = factory(0, 5)
    empty_scores = np.asarray(strategy.score(empty))
    _check(empty_scores.shape == (0,), f"{name}.score on an empty pool returned shape {empty_scores.shape}")
    _check(len(strategy.select(factory(0, 5), 10)) == 0, f"{name}.select on an empty pool must return nothing")


def check_encoder(encoder: Any, *, n_images: int = 6, seed: int = 0) -> None:
    """Conformance of an image encoder plugin (``labelsieve.encoders``): a stable string ``key()``, one finite
    float32 row of ``output_dim`` values per image, grey and colour images alike, the same vectors for the same images
    (a frozen network), different vectors for different images, and an empty batch. Raises AssertionError naming
    the broken rule."""
    rng = np.random.default_rng(seed)
    images: list[np.ndarray] = [rng.integers(0, 256, (20, 24, 3), dtype=np.uint8) for _ in range(n_images - 1)]
    images.append(rng.integers(0, 256, (16, 16), dtype=np.uint8))  # grey
    key = encoder.key()
    _check(isinstance(key, str) and key == encoder.key(), "key() must return the same string every call")
    vectors = np.asarray(encoder.encode(images))
    dim = int(encoder.output_dim)
    _check(vectors.shape == (len(images), dim), f"encode gave shape {vectors.shape}, expected {(len(images), dim)}")
    _check(vectors.dtype == np.float32, f"encode must give float32, gave {vectors.dtype}")
    _check(bool(np.isfinite(vectors).all()), "encode gave non-finite values")
    again = np.asarray(encoder.encode(images[::-1]))[::-1]
    _check(bool(np.allclose(vectors, again, atol=1e-3, rtol=1e-3)),
           "the same image must give the same vector (frozen network, no batch dependence)")
    _check(float(np.abs(vectors[0] - vectors[1]).max()) > 1e-6, "different images gave identical vectors")
    _check(len(np.asarray(encoder.encode([]))) == 0, "an empty batch must give no rows")
