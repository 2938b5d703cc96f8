"""Label Studio rounds for a pool: import the chosen items as tasks, read their annotations back, retrain.

Each imported task's ``data`` holds the item's non-embedding columns plus ``pool_id`` and
``pool_position``; its prediction carries the pick's rank as ``score`` (Label Studio serves the lowest
score first, so items come in pick order) and, once a model exists, the predicted label. The next round
exports the project: annotated tasks are the labelled set (their embeddings are fetched from the pool
by position), every imported task is excluded from the pool and is a core-set centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from labelsieve.labelconfig import LabelConfig, labels_from_result
from labelsieve.pool.model import ModelBundle, bundle_learner, load_learner
from labelsieve.pool.select import Selection
from labelsieve.pool.source import EMBEDDING_COLUMN, PoolSource, embedding_matrix, exclusion, fetch_rows
from labelsieve.registry import get_registry

POOL_ID = "pool_id"
POOL_POSITION = "pool_position"


@dataclass(frozen=True)
class ProjectState:
    """What a Label Studio project says about the pool: imported items and the annotated ones."""

    imported_ids: list[Any]
    imported_positions: list[int]
    labelled_positions: list[int]
    labels: list[str]


def project_state(tasks: list[dict[str, Any]], config: LabelConfig) -> ProjectState:
    imported_ids, imported_positions, positions, labels = [], [], [], []
    for task in tasks:
        data = task.get("data") or {}
        if POOL_POSITION not in data:
            continue  # a task that did not come from the pool
        imported_ids.append(data.get(POOL_ID))
        imported_positions.append(int(data[POOL_POSITION]))
        done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if not done:
            continue
        latest = max(done, key=lambda a: (str(a.get("updated_at") or ""), int(a.get("id") or 0)))
        chosen = labels_from_result(latest.get("result"), config)
        if chosen:
            positions.append(int(data[POOL_POSITION]))
            labels.append(chosen[0])
    return ProjectState(imported_ids, imported_positions, positions, labels)


def pool_vectors(source: PoolSource, positions: list[int]) -> np.ndarray:
    if not positions:
        return np.zeros((0, int(source.dim or 0)), dtype=np.float32)
    return embedding_matrix(fetch_rows(source, positions, [EMBEDDING_COLUMN]), int(source.dim or 0))


def train(source: PoolSource, state: ProjectState, learner_name: str = "vector") -> tuple[ModelBundle | None, str]:
    """The learner fitted on the annotated items' embeddings, or ``None`` (and why) when it cannot be yet."""
    if len(set(state.labels)) < 2:
        return None, f"{len(state.labels)} annotations with {len(set(state.labels))} distinct labels (need 2)"
    learner = get_registry("learners").create(learner_name)
    learner.fit(pool_vectors(source, state.labelled_positions), state.labels)
    return bundle_learner(learner_name, learner), f"trained {learner_name} on {len(state.labels)} annotations"


def exclude_of(state: ProjectState) -> pa.Array | None:
    return exclusion([i for i in state.imported_ids if i is not None])


def task_payloads(source: PoolSource, selection: Selection, config: LabelConfig, model_version: str,
                  model: ModelBundle | None) -> list[dict[str, Any]]:
    """One Label Studio task per pick: the item's columns, its pool id/position and a rank prediction."""
    columns = [c for c in source.columns if c != EMBEDDING_COLUMN]
    rows = fetch_rows(source, selection.positions, columns).to_pylist() if selection.positions else []
    predicted = _predicted(source, selection, model)
    tasks = []
    for rank, (row, pick_id, position) in enumerate(zip(rows, selection.ids, selection.positions, strict=True), 1):
        data = {key: value for key, value in row.items() if value is not None}
        data.update({POOL_ID: pick_id, POOL_POSITION: int(position)})
        result = [] if predicted is None else [{
            "from_name": config.from_name, "to_name": config.to_name, "type": "choices",
            "value": {"choices": [predicted[rank - 1]]}}]
        tasks.append({"data": data, "predictions": [{"model_version": model_version, "score": float(rank),
                                                     "result": result}]})
    return tasks


def _predicted(source: PoolSource, selection: Selection, model: ModelBundle | None) -> list[str] | None:
    if model is None or not selection.positions:
        return None
    learner = load_learner(model)
    probas = np.asarray(learner.predict_proba(pool_vectors(source, selection.positions)))
    return [str(learner.classes_[i]) for i in probas.argmax(axis=1)]
