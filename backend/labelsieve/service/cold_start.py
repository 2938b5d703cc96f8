"""Cold start: a first head for a project with fewer labels than ``min_annotations``, when its strategy needs no model.

A project connected with no (or too few) labels gets no model, so Label Studio would serve it at random. When the
project's strategy is label-free (``needs_model = False``: TypiClust, ProbCover, k-means, adaptive's cold part,
random) the worker's round, after the retrain skipped for lack of labels, asks :class:`ColdStart` to rank the pool on
task vectors and push the head:

- text: TF-IDF (the text learner's own token counts) reduced by a truncated SVD to 64 dimensions and
  L2-normalised (no model download); the basis is fitted once per project and each text's vector is kept in the
  service's text-feature store, so a later cold round projects only the new texts
  (:mod:`labelsieve.service.cold_features`);
- vectors (``vector`` input kind): the task's own vector.

Image pools need an encoder's vectors; they are not ranked cold (the reason shows in the status).

The ranking is stored as a version with ``status="cold"`` (only its ``ranking.safetensors``, no model) and pushed
with empty results: nothing is pre-ticked. The project's serving ``model_version`` stays unset, so ``/predict`` and
the quality jobs never see it; the first trained version replaces it in Label Studio and the pruner deletes it. A
project is ranked cold again only when its pool or its labels changed since the last cold ranking.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.service.cold_features import ColdTextFeatures
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.pool_inputs import PoolInputs, load_pool, load_tasks
from labelsieve.service.project_settings import ProjectSettings
from labelsieve.service.ranking import rank_scores
from labelsieve.service.training import version_name
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion, QueryRound
from labelsieve.storage.rankings import build_ranking, save_ranking
from labelsieve.strategies.base import PoolContext, QueryStrategy, full_ranking

log = logging.getLogger(__name__)
COLD_STATUS = "cold"


@dataclass
class ColdRound:
    """The last cold-start attempt of a project (the status's ``cold_start``)."""

    project_id: int
    state: str  # ranked | unsupported | failed
    strategy: str = ""
    version: str | None = None
    n_pool: int = 0
    n_labeled: int = 0
    features: str | None = None  # tfidf-svd | vectors
    seconds: float = 0.0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ColdStart:
    """``rank(project_id)``: rank and push a cold-start head when the project has no model and its strategy needs
    none; the worker calls it after a retrain skipped (see the module docstring)."""

    def __init__(self, *, loop: ActiveLearningLoop) -> None:
        self.loop = loop
        store = loop.text_features.cache if loop.text_features is not None else EmbeddingCache()
        #: text vectors kept between cold rounds, in the service's text-feature store
        self.text_vectors = ColdTextFeatures(cache=store)
        self._last: dict[int, ColdRound] = {}
        self._keys: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def status(self, project_id: int) -> dict[str, Any] | None:
        with self._lock:
            last = self._last.get(project_id)
        return None if last is None else last.as_dict()

    def rank(self, project_id: int) -> ColdRound | None:
        """Rank the pool cold and push its head; None when the project has a model or nothing changed."""
        loop = self.loop
        project = loop.project(project_id)
        if project.model_version:
            return None
        started = time.perf_counter()
        resolved = loop.settings_of(project)
        ps = resolved.settings
        strategy = resolved.strategy or loop.registries.strategies.create(ps.strategy, ps.strategy_params)
        if strategy.needs_model:
            return self._record(ColdRound(project_id, "unsupported", ps.strategy,
                                          reason=f"strategy {ps.strategy!r} needs a model"))
        input_kind = loop.registries.learners.create(ps.learner, ps.learner_params).input_kind
        loader = loop.input_loader(project, input_kind)
        with session_scope(loop.engine) as session:
            examples = crud.labeled_examples(session=session, project_id=project_id)
            pool = load_pool(session=session, project_id=project_id, loader=loader, cache=loop.input_cache)
            labeled = load_tasks(session=session, tasks=[t for t, _ in examples], loader=loader,
                                 cache=loop.input_cache)
        key = (len(pool), len(labeled))
        with self._lock:
            if self._keys.get(project_id) == key:
                return None
        if len(pool) == 0:
            return None
        seed = zlib.crc32(f"{project_id}:cold:{ps.seed}:{key}".encode())
        with loop.train_slots.held(project_id):  # CPU work: takes its turn with the other projects' rounds
            ranked = self._rank_cold(project_id, ps, strategy, input_kind, pool, labeled, seed)
        if isinstance(ranked, ColdRound):
            return self._record(ranked)
        version, features = ranked
        # recorded before the push: once Label Studio serves the version, the status already names it
        done = self._record(ColdRound(project_id, "ranked", ps.strategy, version, len(pool), len(labeled), features,
                                      time.perf_counter() - started))
        if loop.publisher is not None:
            try:
                loop.publisher(project_id, version)
            except Exception:  # noqa: BLE001 - pushed again by the next cold round or replaced by the first model
                log.exception("publishing the cold-start head %s of project %s failed", version, project_id)
                loop.metrics.failures.labels("publish").inc()
                return self._record(ColdRound(project_id, "failed", ps.strategy, version, len(pool), len(labeled),
                                              features, reason="publishing the head failed"))
        with self._lock:
            self._keys[project_id] = key
        log.info("project %s: cold-start head %s by %s over %d tasks (%s) in %.2f s", project_id, version,
                 ps.strategy, len(pool), features, time.perf_counter() - started)
        return done

    def _rank_cold(self, project_id: int, ps: ProjectSettings, strategy: QueryStrategy, input_kind: str,
                   pool: PoolInputs, labeled: PoolInputs, seed: int) -> tuple[str, str] | ColdRound:
        """Vectors, ranking and the stored cold version: (version, features), or why there is none."""
        found = self._vectors(project_id, input_kind, [*pool.inputs, *labeled.inputs], seed)
        if found is None:
            return ColdRound(project_id, "unsupported", ps.strategy, n_pool=len(pool),
                             reason=f"no label-free vectors for {input_kind} tasks")
        vectors, features = found
        ctx = PoolContext(pool=pool.inputs, learner=None, rng=np.random.default_rng(seed), labeled=labeled.inputs,
                          labeled_y=np.full(len(labeled), -1, dtype=np.int64), classes=(), ids=pool.ids,
                          pool_embeddings=vectors[: len(pool)], labeled_embeddings_given=vectors[len(pool):])
        try:
            order, utility = full_ranking(strategy, ctx, ps.batch_size)
        except Exception as exc:  # noqa: BLE001 - a strategy that cannot rank cold: the project waits for labels
            log.exception("cold start of project %s with %s failed", project_id, ps.strategy)
            return ColdRound(project_id, "failed", ps.strategy, n_pool=len(pool),
                             reason=f"{type(exc).__name__}: {exc}"[:500])
        version = self._store(project_id, strategy_name=ps.strategy, params=dict(ps.strategy_params), seed=seed,
                              pool_ids=pool.ids, order=order, utility=utility, batch_size=ps.batch_size,
                              n_labeled=len(labeled))
        return version, features

    def _vectors(self, project_id: int, input_kind: str, inputs: list[Any],
                 seed: int) -> tuple[np.ndarray, str] | None:
        """Label-free task vectors for ``inputs`` (see the module docstring), or None for an input kind without
        them."""
        if input_kind == "vector":
            return np.vstack([np.asarray(x, dtype=np.float32).ravel() for x in inputs]), "vectors"
        if input_kind != "text":
            return None
        return self.text_vectors.vectors(project_id, [str(t) for t in inputs], seed=seed), "tfidf-svd"

    def _store(self, project_id: int, *, strategy_name: str, params: dict[str, Any], seed: int,
               pool_ids: np.ndarray, order: np.ndarray, utility: np.ndarray, batch_size: int, n_labeled: int) -> str:
        loop = self.loop
        with session_scope(loop.engine) as session:
            number = crud.next_version_number(session=session, project_id=project_id)
        version = version_name(number)
        n = len(order)
        ranking = build_ranking(version=version, classes=(), pool_ids=pool_ids, order=order, scores=rank_scores(n),
                                probas=np.zeros((n, 1)), utility=utility, confidence=np.zeros(n),
                                regions=[[] for _ in range(n)])  # empty results: nothing pre-ticked
        path = loop.artifacts.path_for(project_id, version)
        path.mkdir(parents=True, exist_ok=True)
        save_ranking(path, ranking)
        with session_scope(loop.engine) as session:
            crud.add_model_version(session=session, row=ModelVersion(
                project_id=project_id, version=version, number=number, learner="", status=COLD_STATUS,
                n_train=n_labeled, artifact=str(path), metrics={"cold_start": {"strategy": strategy_name}}))
            crud.add_query_round(session=session, row=QueryRound(
                project_id=project_id, model_version=version, strategy=strategy_name, strategy_params=params,
                seed=seed, n_pool=n, n_labeled=n_labeled, batch=[int(t) for t in ranking.task_ids[:batch_size]]))
        return version

    def _record(self, outcome: ColdRound) -> ColdRound:
        with self._lock:
            self._last[outcome.project_id] = outcome
        return outcome
