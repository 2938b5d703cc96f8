"""Which features an image project's round uses: encoder vectors when they are cheap, else pixels for now.

The image twin of :mod:`labelsieve.service.text_features`. A round of ``auto_image`` with an ``encoder`` encodes
every image the embedding store lacks (learners/image_vectors.py: keyed by image content). Beyond the project's
``embedding_budget`` images, that round fits and ranks on pixels (``encoder: null``) and an
:class:`~labelsieve.service.embedding_job.EmbeddingJob` encodes the pool in the background; when it is done, the
``retrain`` callback forces a retrain that finds every vector stored. A job that fails (its weights cannot be read)
leaves the project on pixels with the error in the project status (``image_features``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.learners.image_vectors import checked_store, content_key
from labelsieve.registry import Registries
from labelsieve.service.embedding_job import EmbeddingJob, JobBoard
from labelsieve.settings import ProjectSettings


class ImageFeatures(JobBoard):
    def __init__(self, *, cache: EmbeddingCache, registries: Registries,
                 retrain: Callable[[int], None] | None = None, gate: Callable[[float], bool] | None = None) -> None:
        self.cache = cache
        self.gate = gate  # the encoding waits before each batch until no training round is coming or running
        self.registries = registries
        #: asked (with the project id) for a forced retrain once a project's pool is encoded
        self.retrain = retrain
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, str], EmbeddingJob] = {}
        self._plans: dict[int, dict[str, Any]] = {}
        self._encoders: dict[str, Any] = {}  # one loaded network per (name, params), reused by every round

    def encoder(self, name: str, params: dict[str, Any]) -> Any:
        key = json.dumps([name, params], sort_keys=True, default=str)
        with self._lock:
            found = self._encoders.get(key)
        if found is None:
            found = self.registries.encoders.create(name, params)
            with self._lock:
                found = self._encoders.setdefault(key, found)
        return found

    def learner_params(self, project_id: int, ps: ProjectSettings, input_kind: str,
                       images: Sequence[Any]) -> dict[str, Any]:
        """This round's learner parameters: the project's, with ``encoder`` set to None (pixels) while more than
        ``embedding_budget`` of ``images`` would have to be encoded (the background job then starts) or while the
        project's job runs or has failed."""
        params = ps.learner_params
        name = params.get("encoder")
        if input_kind != "image" or not name:
            return params
        encoder = self.encoder(str(name), dict(params.get("encoder_params") or {}))
        model = checked_store(encoder, self.cache)
        with self._lock:
            job = self._jobs.get((project_id, model))
        if job is not None and job.progress().state in ("running", "failed"):
            self._plan(project_id, str(name), "pixels", len(images), None, job)
            return {**params, "encoder": None}
        keys = [content_key(image) for image in images]
        missing = self.cache.missing(model, keys)
        if len(missing) <= ps.embedding_budget:
            self._plan(project_id, str(name), "encoder", len(set(keys)), len(missing), job)
            return params
        lookup = dict(zip(keys, images, strict=True))

        def encode_factory(_model: str) -> Callable[[list[str]], np.ndarray]:
            return lambda todo: encoder.encode([lookup[k] for k in todo])

        job = EmbeddingJob(project_id=project_id, model=model, texts=missing, cache=self.cache,
                           on_done=self.retrain, gate=self.gate, encoder_factory=encode_factory, batch=256)
        with self._lock:
            self._jobs[(project_id, model)] = job
        self._plan(project_id, str(name), "pixels", len(set(keys)), len(missing), job)
        job.start()
        return {**params, "encoder": None}

    def _plan(self, project_id: int, name: str, features: str, total: int, missing: int | None,
              job: EmbeddingJob | None) -> None:
        with self._lock:
            self._plans[project_id] = {"encoder": name, "next_round": features, "total": total, "missing": missing,
                                       "job": job}

    def describe(self, project_id: int) -> dict[str, Any] | None:
        """``image_features`` of the project status: the encoder, what the next round reads (encoder | pixels),
        how much of the pool is encoded, the background job's state, speed and error; None without an encoder."""
        with self._lock:
            plan = dict(self._plans.get(project_id) or {})
        if not plan:
            return None
        job: EmbeddingJob | None = plan.pop("job")
        progress = None if job is None else job.progress()
        encoded = None if plan["missing"] is None else plan["total"] - plan["missing"]
        if progress is not None and progress.state in ("running", "failed"):
            encoded, plan["total"] = progress.encoded, progress.total
        return {"encoder": plan["encoder"], "next_round": plan["next_round"], "encoded": encoded,
                "total": plan["total"], "job": None if progress is None else progress.state,
                "images_per_second": None if progress is None else progress.texts_per_second,
                "error": None if progress is None else progress.error}
