"""The diagnosis stage of a live project: predictive entropy over the pool and a 2-D map of its embeddings.

The serving model scores a uniform sample of the pool it ranked (at most ``POOL_SAMPLE`` tasks, drawn with a
generator seeded by the version, so a page shows the same points every time), the labelled tasks (at most
``LABELLED_SAMPLE``) and the queue; a PCA fitted on the pool sample places all three on one plane.
Computed once per model version and kept (:class:`DiagnosisCache`): cost grows with the sample, not the pool.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project

log = logging.getLogger(__name__)
POOL_SAMPLE = 2000
LABELLED_SAMPLE = 1000


@dataclass
class Diagnosis:
    version: str
    n_pool: int  # tasks the version ranked
    entropy: np.ndarray  # predictive entropy (nats) of each sampled pool task
    max_entropy: float  # log(number of classes)
    points: dict[str, np.ndarray] = field(default_factory=dict)  # pool / labelled / queued → (n, 2)
    explained: list[float] = field(default_factory=list)  # variance ratio of the two components
    errors: int = 0  # sampled tasks whose input could not be loaded
    reason: str = ""  # why there is no map (empty when there is one)


def entropy(probas: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probas, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def _sample(ids: list[int], size: int, rng: np.random.Generator) -> list[int]:
    if len(ids) <= size:
        return ids
    return sorted(int(i) for i in rng.choice(np.asarray(ids, dtype=np.int64), size=size, replace=False))


def compute_diagnosis(loop: ActiveLearningLoop, project: Project, queued: list[int]) -> Diagnosis | None:
    """Score samples of the pool and the labels with the serving model; None before any model."""
    served = loop.serving_model(project)
    if served is None:
        return None
    version, learner = served
    rng = np.random.default_rng(zlib.crc32(f"{project.id}:{version}:page".encode()))
    with session_scope(loop.engine) as session:
        stored = rankings.ranking_of(session=session, project_id=project.id, version=version)
        ranked = [] if stored is None else stored.task_ids.tolist()
        labelled = sorted({t.id for t, _ in crud.labeled_examples(session=session, project_id=project.id)})
        picks = {"pool": _sample(ranked, POOL_SAMPLE, rng), "labelled": _sample(labelled, LABELLED_SAMPLE, rng),
                 "queued": list(queued)}
        tasks = crud.get_tasks(session=session, task_ids=sorted({i for ids in picks.values() for i in ids}))
    loader = loop.input_loader(project, learner.input_kind)
    classes = max(2, len(learner.classes_))
    result = Diagnosis(version=version, n_pool=len(ranked), entropy=np.zeros(0), max_entropy=float(np.log(classes)))
    embedded: dict[str, np.ndarray] = {}
    for name, ids in picks.items():
        present = [i for i in ids if i in tasks]
        if not present:
            continue
        loaded = loader.load([tasks[i].data for i in present])
        result.errors += len(loaded.errors)
        if not loaded.inputs:
            continue
        if callable(getattr(learner, "infer_regions", None)):  # boxes: no one class distribution per task
            _, emb = learner.infer_regions(loaded.inputs)  # the map only (its own section shows the boxes)
        else:
            probas, emb = learner.infer(loaded.inputs)
            if name == "pool":
                result.entropy = entropy(probas)
        if emb is not None and len(emb):
            embedded[name] = np.asarray(emb, dtype=np.float64).reshape(len(loaded.inputs), -1)
    base = embedded.get("pool")
    if base is None or len(base) < 3 or base.shape[1] < 2:
        result.reason = "too few pool items with embeddings for a map" if base is None or len(base) < 3 else \
            "the embeddings have fewer than 2 dimensions"
        return result
    pca = PCA(n_components=2, random_state=0).fit(base)
    result.points = {name: pca.transform(values) for name, values in embedded.items()}
    result.explained = [float(v) for v in pca.explained_variance_ratio_]
    return result


class DiagnosisCache:
    """The latest diagnosis per project, recomputed only when the serving version changes."""

    def __init__(self, max_projects: int = 32) -> None:
        self.max_projects = max_projects
        self._entries: OrderedDict[int, Diagnosis] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[int, threading.Lock] = {}

    def get(self, loop: ActiveLearningLoop, project: Project, queued: list[int]) -> tuple[Diagnosis | None, bool]:
        """(diagnosis, came from the cache). One computation per project at a time; others wait for it."""
        with self._lock:
            lock = self._computing.setdefault(project.id, threading.Lock())
        with lock:
            with self._lock:
                hit = self._entries.get(project.id)
                if hit is not None and hit.version == project.model_version:
                    self._entries.move_to_end(project.id)
                    return hit, True
            try:
                fresh = compute_diagnosis(loop, project, queued)
            except Exception as exc:  # noqa: BLE001 - a model that cannot be loaded must not take the page down
                log.exception("diagnosis of project %s failed", project.id)
                fresh = Diagnosis(version=project.model_version, n_pool=0, entropy=np.zeros(0), max_entropy=1.0,
                                  reason=f"the serving model could not score the pool: {type(exc).__name__}: {exc}")
            if fresh is not None:
                with self._lock:
                    self._entries[project.id] = fresh
                    while len(self._entries) > self.max_projects:
                        self._entries.popitem(last=False)
            return fresh, False


def summary(d: Diagnosis | None) -> dict[str, Any]:
    if d is None:
        return {"available": False}
    return {"available": True, "version": d.version, "n_pool": d.n_pool, "sampled": int(len(d.entropy)),
            "mean_entropy": float(d.entropy.mean()) if len(d.entropy) else None,
            "points": {k: int(len(v)) for k, v in d.points.items()}, "errors": d.errors, "reason": d.reason}
