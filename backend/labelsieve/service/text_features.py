"""Which features a text project's round uses: sentence embeddings when they are cheap, else TF-IDF for now.

A text learner with an ``embedding_model`` encodes every text it has not seen: on a 20,000-text pool the first
round took ~300 s on one CPU before anything reached Label Studio. :class:`TextFeatures` counts, before each fit,
the round's texts that neither memory nor the on-disk store holds; beyond the project's ``embedding_budget`` the
round fits and ranks with TF-IDF (``embedding_model: null``), a live ranking in seconds, and an
:class:`~labelsieve.service.embedding_job.EmbeddingJob` encodes them in the background. When it is done, the
``retrain`` callback forces a retrain, which finds every vector stored and uses the embeddings from then on. A
failed job (the encoder cannot load, say) leaves the project on TF-IDF with the error in its status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.service.embedding_job import EmbeddingJob, EncoderFactory, JobBoard, local_encoder
from labelsieve.settings import ProjectSettings
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope


class TextFeatures(JobBoard):
    def __init__(self, *, cache: EmbeddingCache, retrain: Callable[[int], None] | None = None,
                 encoder_factory: EncoderFactory = local_encoder,
                 gate: Callable[[float], bool] | None = None) -> None:
        self.cache = cache
        self.gate = gate  # the encoding waits before each batch until no training round is coming or running
        #: asked (with the project id) for a forced retrain once a project's pool is encoded
        self.retrain = retrain
        self.encoder_factory = encoder_factory
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, str], EmbeddingJob] = {}
        self._plans: dict[int, dict[str, Any]] = {}  # project -> the last round's plan

    def learner_params(self, project_id: int, ps: ProjectSettings, input_kind: str,
                       texts: Sequence[Any]) -> dict[str, Any]:
        """The learner parameters of this round: the project's, with ``embedding_model`` set to None (TF-IDF)
        while more than ``embedding_budget`` of ``texts`` would have to be encoded (the background job is then
        started) or while the project's job runs or has failed."""
        params = ps.learner_params
        model = params.get("embedding_model")
        if input_kind != "text" or not model:
            return params
        model = str(model)
        with self._lock:
            job = self._jobs.get((project_id, model))
        if job is not None and job.progress().state in ("running", "failed"):
            self._plan(project_id, model, "tfidf", len(texts), None)
            return {**params, "embedding_model": None}
        strings = [str(t) for t in texts]
        missing = self.cache.missing(model, strings)
        if len(missing) <= ps.embedding_budget:
            self._plan(project_id, model, "embeddings", len(set(strings)), len(missing))
            return params
        job = EmbeddingJob(project_id=project_id, model=model, texts=missing, cache=self.cache,
                           on_done=self.retrain, gate=self.gate, encoder_factory=self.encoder_factory)
        with self._lock:
            self._jobs[(project_id, model)] = job
        self._plan(project_id, model, "tfidf", len(set(strings)), len(missing))
        job.start()
        return {**params, "embedding_model": None}

    def _plan(self, project_id: int, model: str, features: str, total: int, missing: int | None) -> None:
        with self._lock:
            self._plans[project_id] = {"model": model, "features": features, "total": total, "missing": missing}

    # ---------------------------------------------------------------- reporting
    def jobs(self, *, running_only: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            jobs = list(self._jobs.values())
        progress = [j.progress() for j in jobs]
        return [p.as_dict() for p in progress if not running_only or p.state == "running"]

    def describe(self, engine: Engine, project_id: int, serving: str | None) -> dict[str, Any] | None:
        """``text_features`` of the project status: what the serving model reads (tfidf | embeddings), the
        model, how much of the pool is encoded, the job's speed and error; None for a project without text."""
        with self._lock:
            plan = dict(self._plans.get(project_id) or {})
            jobs = [j for (pid, _), j in self._jobs.items() if pid == project_id]
        params: dict[str, Any] = {}
        if serving:
            with session_scope(engine) as session:
                row = crud.get_model_version(session=session, project_id=project_id, version=serving)
                params = dict(row.learner_params or {}) if row is not None else {}
        if not plan and "embedding_model" not in params:
            return None
        model = plan.get("model") or params.get("embedding_model")
        job = next((j for j in jobs if j.model == model), None)
        progress = job.progress() if job is not None else None
        if progress is not None and (progress.state in ("running", "failed") or plan.get("missing") is None):
            total, encoded = progress.total, progress.encoded
        else:  # the last round's count (the job's is older)
            total = plan.get("total")
            encoded = None if plan.get("missing") is None or total is None else total - plan["missing"]
        return {"features": "embeddings" if params.get("embedding_model") else "tfidf",
                "next_round": plan.get("features"), "model": model, "encoded": encoded, "total": total,
                "job": None if progress is None else progress.state,
                "texts_per_second": None if progress is None else progress.texts_per_second,
                "error": None if progress is None else progress.error}
