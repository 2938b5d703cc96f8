"""Encoding a project's pool into the embedding store in the background, one thread per (project, model).

A round that would have to encode more texts than the project's ``embedding_budget`` ranks with TF-IDF instead
(service/text_features.py) and starts an :class:`EmbeddingJob`: it encodes the texts the store lacks in batches
of ``batch`` (each batch one store segment, so a crash keeps every finished batch) and counts its progress
(encoded / total, texts per second). Rounds come first: before each batch the job waits in ``gate`` until no
training round is coming, queued or training (``FairSlots.wait_quiet``). When it is done, ``on_done`` is called
(the service forces a retrain, which then finds every text stored); when the encoder fails (model folder missing,
say), the error is kept and the project stays on TF-IDF.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.learners.text_models import encode_with, load_encoder

log = logging.getLogger(__name__)

#: builds the encode function of a model folder: list of texts -> one float32 row each
EncoderFactory = Callable[[str], Callable[[list[str]], np.ndarray]]


def local_encoder(model: str) -> Callable[[list[str]], np.ndarray]:
    encoder = load_encoder(model)
    return lambda texts: encode_with(encoder, texts)


@dataclass(frozen=True)
class JobProgress:
    project_id: int
    model: str
    state: str  # running | done | failed | stopped (the service stopped)
    encoded: int
    total: int
    texts_per_second: float | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"project": self.project_id, "model": self.model, "state": self.state, "encoded": self.encoded,
                "total": self.total, "texts_per_second": self.texts_per_second, "error": self.error}


class EmbeddingJob:
    """Encodes ``texts`` that ``cache`` (and its store) lack, on its own thread (:meth:`start`)."""

    def __init__(self, *, project_id: int, model: str, texts: Sequence[str], cache: EmbeddingCache,
                 on_done: Callable[[int], None] | None = None, encoder_factory: EncoderFactory = local_encoder,
                 batch: int = 512, gate: Callable[[float], bool] | None = None) -> None:
        self.project_id = project_id
        self.gate = gate
        self.model = model
        self.texts = texts
        self.cache = cache
        self.on_done = on_done
        self.encoder_factory = encoder_factory
        self.batch = batch
        self._lock = threading.Lock()
        self._state = "running"
        self._encoded = 0
        self._total = len(texts)
        self._seconds = 0.0
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"labelsieve-embed-{self.project_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the batch being encoded (its vectors are kept)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (and ``on_done`` has run); False on timeout."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state == "running"

    def progress(self) -> JobProgress:
        with self._lock:
            rate = self._encoded / self._seconds if self._seconds > 0 else None
            return JobProgress(self.project_id, self.model, self._state, self._encoded, self._total,
                               None if rate is None else round(rate, 1), self._error)

    def _run(self) -> None:
        try:
            todo = self.cache.missing(self.model, self.texts)
            with self._lock:
                self._encoded = self._total - len(todo)
            encode = self.encoder_factory(self.model) if todo else None
            for start in range(0, len(todo), self.batch):
                while self.gate is not None and not self._stop.is_set() and not self.gate(0.5):
                    pass  # a training round is coming, queued or training: it goes first
                if self._stop.is_set():
                    with self._lock:
                        self._state = "stopped"
                    return
                chunk = todo[start:start + self.batch]
                began = time.perf_counter()
                assert encode is not None
                self.cache.encode(self.model, chunk, encode)
                with self._lock:
                    self._seconds += time.perf_counter() - began
                    self._encoded += len(chunk)
        except Exception as exc:  # noqa: BLE001 - the job fails visibly; the project keeps TF-IDF
            log.exception("encoding the pool of project %s with %s failed", self.project_id, self.model)
            with self._lock:
                self._state, self._error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            return
        with self._lock:
            self._state = "done"
        log.info("project %s: %d texts encoded with %s in %.1f s", self.project_id, self._total, self.model,
                 self._seconds)
        if self.on_done is not None:
            try:
                self.on_done(self.project_id)
            except Exception:  # noqa: BLE001
                log.exception("the retrain after encoding the pool of project %s could not be asked for",
                              self.project_id)


class JobBoard:
    """The background encoding jobs of one kind (text or image), keyed by (project, model), under one lock;
    :meth:`wait` and :meth:`stop` for tests and shutdown. Subclasses set ``_lock`` and ``_jobs`` in ``__init__``."""

    _lock: threading.Lock
    _jobs: dict[tuple[int, str], EmbeddingJob]

    def wait(self, timeout: float = 600.0) -> bool:
        """Block until every job has finished and asked for its retrain (tests, CLI); False on timeout."""
        with self._lock:
            jobs = list(self._jobs.values())
        return all(job.join(timeout) for job in jobs)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        for job in jobs:
            job.join(timeout)
