"""Each model version's full ranking of the unlabeled pool: one array file beside the model.

A retrain ranks every pool task. Instead of one database row per task per version (O(pool) rows
written, and later deleted, every round), the ranking is written once, atomically, as
``ranking.safetensors`` in the version's model directory, so it is kept and removed with the
model's own files. Columns, in rank order (rank 0 = label first): ``task_ids`` (int64), ``scores``
(float64, what Label Studio sees: lower = label sooner), ``label_index`` (int32, the top class),
``confidence`` (float64, the top class's probability) and ``utility`` (float64, the strategy's own
score, NaN where it had none); the class names and the version ride in the file's metadata. A multi-label
version also stores ``label_probas`` (float32, one column per label) and its per-label ``thresholds``: a task's
labels are those at or above threshold, and ``confidence`` is the probability that the whole set is right.

Everything that reads a ranking goes through this module: ``/predict`` (:func:`lookup`), the
webhook's prequential bookkeeping, the Label Studio publisher (:func:`ranked_tasks`) and the queue
refill (:func:`head`). Files are read through a small LRU cache keyed by path, size and mtime.
Versions trained before rankings were files have only ``Prediction`` rows: they are read once
from those rows (:func:`ranking_of` falls back to them), so an upgrade serves the same order.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlmodel import Session

from labelsieve.labelconfig import NO_REGION
from labelsieve.storage import crud
from labelsieve.storage.artifacts import read_array_metadata, read_arrays, write_arrays_atomic

RANKING_FILE = "ranking.safetensors"
REGIONS_FILE = "ranking_regions.json"
CACHED_RANKINGS = 8


@dataclass(frozen=True)
class RankedTask:
    """One task's place in a version's ranking (the attributes a ``Prediction`` row had)."""

    task_id: int
    model_version: str
    rank: int
    score: float
    labels: list[str]
    confidence: float
    utility: float | None
    #: region task types: the Label Studio regions the model predicts for the task (each with its score)
    regions: list[dict] | None = None


class Ranking:
    """A version's ranking held as arrays in rank order; ``lookup`` finds tasks by id in O(log n)."""

    def __init__(self, *, version: str, classes: Sequence[str], task_ids: np.ndarray, scores: np.ndarray,
                 label_index: np.ndarray, confidence: np.ndarray, utility: np.ndarray,
                 label_probas: np.ndarray | None = None, thresholds: np.ndarray | None = None,
                 regions: list[list[dict]] | None = None) -> None:
        self.version = version
        #: region task types: per rank, the predicted Label Studio regions (``ranking_regions.json`` beside the file)
        self.regions = regions
        #: multi-label: ``(n, n_labels)`` per-label probabilities in rank order and the per-label thresholds
        self.label_probas = None if label_probas is None else np.asarray(label_probas, dtype=np.float32)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        self.classes = tuple(str(c) for c in classes)
        self.task_ids = np.asarray(task_ids, dtype=np.int64)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.label_index = np.asarray(label_index, dtype=np.int32)
        self.confidence = np.asarray(confidence, dtype=np.float64)
        self.utility = np.asarray(utility, dtype=np.float64)
        self._by_id = np.argsort(self.task_ids, kind="stable")

    def __len__(self) -> int:
        return int(self.task_ids.shape[0])

    @property
    def nbytes(self) -> int:
        extra = sum(a.nbytes for a in (self.label_probas, self.thresholds) if a is not None)
        return extra + sum(a.nbytes for a in (self.task_ids, self.scores, self.label_index, self.confidence,
                                              self.utility))

    def labels_at(self, rank: int) -> list[str]:
        """The predicted labels of rank ``rank``: the top class, or (multi-label) every label at threshold."""
        if self.regions is not None:  # the labels the predicted regions carry, or "no region"
            found = sorted({label for region in self.regions[rank]  # labels, rectanglelabels...
                            for key, labels in (region.get("value") or {}).items()
                            if key.endswith("labels") and isinstance(labels, list) for label in labels})
            return found or [NO_REGION]
        if self.label_probas is None or self.thresholds is None:
            return [self.classes[int(self.label_index[rank])]]
        chosen = self.label_probas[rank] >= self.thresholds
        return [self.classes[j] for j in np.flatnonzero(chosen)]

    def entry(self, rank: int) -> RankedTask:
        utility = float(self.utility[rank])
        return RankedTask(
            task_id=int(self.task_ids[rank]), model_version=self.version, rank=int(rank),
            score=float(self.scores[rank]), labels=self.labels_at(rank),
            confidence=float(self.confidence[rank]), utility=utility if np.isfinite(utility) else None,
            regions=None if self.regions is None else list(self.regions[rank]),
        )

    def ranks_of(self, task_ids: Sequence[int]) -> np.ndarray:
        """Rank of each id (-1 where the task is not in this ranking)."""
        wanted = np.asarray(list(task_ids), dtype=np.int64)
        if not len(self) or not wanted.size:
            return np.full(wanted.shape[0], -1, dtype=np.int64)
        sorted_ids = self.task_ids[self._by_id]
        at = np.minimum(np.searchsorted(sorted_ids, wanted), len(self) - 1)
        found = sorted_ids[at] == wanted
        return np.where(found, self._by_id[at], -1)

    def lookup(self, task_ids: Sequence[int]) -> dict[int, RankedTask]:
        ids = list(task_ids)
        return {int(t): self.entry(int(r)) for t, r in zip(ids, self.ranks_of(ids), strict=True) if r >= 0}

    def entries(self, start: int = 0, stop: int | None = None) -> list[RankedTask]:
        return [self.entry(r) for r in range(start, min(len(self), stop if stop is not None else len(self)))]


def empty_ranking(version: str) -> Ranking:
    """A ranking of no task (a version with nothing stored)."""
    return Ranking(version=version, classes=(), task_ids=np.zeros(0, dtype=np.int64), scores=np.zeros(0),
                   label_index=np.zeros(0, dtype=np.int32), confidence=np.zeros(0), utility=np.zeros(0))


def build_ranking(*, version: str, classes: Sequence[str], pool_ids: np.ndarray, order: np.ndarray,
                  scores: np.ndarray, probas: np.ndarray, utility: np.ndarray,
                  thresholds: np.ndarray | None = None, confidence: np.ndarray | None = None,
                  regions: Sequence[list[dict]] | None = None) -> Ranking:
    """``pool_ids``/``probas``/``utility`` are in pool order, ``order`` lists pool positions rank 0 first and
    ``scores`` are the Label Studio scores in rank order. Multi-label: ``thresholds`` (per label) and
    ``confidence`` (pool order: P(predicted set is right)); ``probas`` are then kept as ``label_probas``. Region
    task types: ``regions`` (pool order, Label Studio regions per task) and ``confidence`` (pool order)."""
    order = np.asarray(order, dtype=np.int64)
    top = probas.argmax(axis=1) if len(order) else np.zeros(0, dtype=np.int64)
    if confidence is None:
        confidence = probas[np.arange(probas.shape[0]), top] if len(order) else np.zeros(0)
    utility = np.asarray(utility, dtype=np.float64)
    multi = thresholds is not None
    return Ranking(version=version, classes=classes, task_ids=np.asarray(pool_ids, dtype=np.int64)[order],
                   scores=scores, label_index=top[order], confidence=np.asarray(confidence)[order],
                   utility=np.where(np.isfinite(utility), utility, np.nan)[order],
                   label_probas=np.asarray(probas)[order] if multi else None, thresholds=thresholds,
                   regions=None if regions is None else [list(regions[int(i)]) for i in order])


def save_ranking(directory: Path, ranking: Ranking) -> Path:
    """Write ``ranking`` atomically into the version's model directory; return the file."""
    path = Path(directory) / RANKING_FILE
    arrays = {"task_ids": ranking.task_ids, "scores": ranking.scores, "label_index": ranking.label_index,
              "confidence": ranking.confidence, "utility": ranking.utility}
    if ranking.label_probas is not None and ranking.thresholds is not None:
        arrays |= {"label_probas": ranking.label_probas, "thresholds": ranking.thresholds}
    sidecar = Path(directory) / REGIONS_FILE
    if ranking.regions is not None:  # written first: a ranking file never exists without its regions
        tmp = sidecar.with_suffix(".tmp")
        tmp.write_text(json.dumps(ranking.regions, ensure_ascii=False))
        tmp.replace(sidecar)
    write_arrays_atomic(path, arrays,
                        metadata={"version": ranking.version, "classes": json.dumps(list(ranking.classes))})
    return path


@lru_cache(maxsize=CACHED_RANKINGS)
def _read(path: str, size: int, mtime_ns: int) -> Ranking:
    arrays = read_arrays(Path(path))
    meta = read_array_metadata(Path(path))
    return Ranking(version=meta["version"], classes=json.loads(meta["classes"]), task_ids=arrays["task_ids"],
                   scores=arrays["scores"], label_index=arrays["label_index"], confidence=arrays["confidence"],
                   utility=arrays["utility"], label_probas=arrays.get("label_probas"),
                   thresholds=arrays.get("thresholds"), regions=_regions(Path(path).parent / REGIONS_FILE))


def _regions(path: Path) -> list[list[dict]] | None:
    try:
        return list(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def load_ranking(directory: Path) -> Ranking | None:
    """The ranking stored in a version's model directory (None when it has none)."""
    path = Path(directory) / RANKING_FILE
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _read(str(path), stat.st_size, stat.st_mtime_ns)


_legacy: OrderedDict[tuple[str, int, str], Ranking] = OrderedDict()


def _from_rows(session: Session, project_id: int, version: str) -> Ranking | None:
    """A pre-upgrade version's ranking from its ``Prediction`` rows, read once per database and version."""
    key = (str(session.get_bind().engine.url), project_id, version)
    if key in _legacy:
        _legacy.move_to_end(key)
        return _legacy[key]
    ranking = _rows_ranking(session, project_id, version)
    if ranking is None:
        return None
    _legacy[key] = ranking
    while len(_legacy) > CACHED_RANKINGS:
        _legacy.popitem(last=False)
    return ranking


def _rows_ranking(session: Session, project_id: int, version: str) -> Ranking | None:
    rows = crud.ranked_predictions(session=session, project_id=project_id, model_version=version)
    if not rows:
        return None
    classes = sorted({label for row in rows for label in row.labels})
    index = {label: i for i, label in enumerate(classes)}
    return Ranking(
        version=version, classes=classes, task_ids=np.array([r.task_id for r in rows], dtype=np.int64),
        scores=np.array([r.score for r in rows]), label_index=np.array([index[r.labels[0]] for r in rows]),
        confidence=np.array([r.confidence for r in rows]),
        utility=np.array([np.nan if r.utility is None else r.utility for r in rows]),
    )


def ranking_of(*, session: Session, project_id: int, version: str) -> Ranking | None:
    """``version``'s ranking: its file, else (versions from before ranking files) its ``Prediction`` rows."""
    row = crud.get_model_version(session=session, project_id=project_id, version=version)
    if row is not None and row.artifact:
        ranking = load_ranking(Path(row.artifact))
        if ranking is not None:
            return ranking
    return _from_rows(session, project_id, version)


def lookup(*, session: Session, project_id: int, version: str, task_ids: Iterable[int]) -> dict[int, RankedTask]:
    """Rank, score and predicted label of each task ``version`` ranked (tasks it did not rank are absent)."""
    ranking = ranking_of(session=session, project_id=project_id, version=version)
    return {} if ranking is None else ranking.lookup(list(task_ids))


def ranked_tasks(*, session: Session, project_id: int, version: str) -> list[RankedTask]:
    """Every task ``version`` ranked, rank 0 first."""
    ranking = ranking_of(session=session, project_id=project_id, version=version)
    return [] if ranking is None else ranking.entries()


def head(*, session: Session, project_id: int, version: str, k: int, start: int = 0) -> list[RankedTask]:
    """The first ``k`` tasks of ``version``'s ranking from rank ``start`` on that are still unlabelled.

    Tasks annotated (or deleted) since the ranking was made are skipped. The database is asked only
    about a window of ranked ids at a time, so the cost grows with ``k`` and the tasks skipped, not
    with the project."""
    ranking = ranking_of(session=session, project_id=project_id, version=version)
    if ranking is None or k <= 0:
        return []
    out: list[RankedTask] = []
    window = max(2 * k, 256)
    position = max(0, start)
    while len(out) < k and position < len(ranking):
        ids = [int(t) for t in ranking.task_ids[position:position + window]]
        gone = crud.unavailable_task_ids(session=session, project_id=project_id, task_ids=ids)
        for offset, task_id in enumerate(ids):
            if task_id not in gone:
                out.append(ranking.entry(position + offset))
                if len(out) == k:
                    break
        position += window
    return out
