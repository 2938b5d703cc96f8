"""Learner inputs for a round (the unlabeled pool, the labelled tasks), decoded once and reused.

The pool is listed as (task id, ``updated_at``) pairs only; task data is read from the database,
and decoded by the :class:`~labelsieve.inputs.InputLoader`, just for the tasks the
:class:`~labelsieve.input_cache.InputCache` does not hold (new or changed tasks, or those past its
byte budget). A round after the first therefore costs no decode and no JSON parse per cached task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import Session

from labelsieve.input_cache import InputCache
from labelsieve.inputs import InputLoader
from labelsieve.learners.pool_features import pool_sample
from labelsieve.storage import crud
from labelsieve.storage.models import Task

DataSource = Callable[[list[int]], Mapping[int, dict[str, Any]]]

#: at most this many pool inputs go to ``learner.fit(..., unlabeled=)``: a seeded sample beyond it (each learner
#: caps what it uses further, e.g. VectorLearner's ``pool_limit``), so a round stays cheap on a large pool
POOL_FIT_LIMIT = 20000


def pool_for_fit(inputs: Sequence[Any], rng: np.random.Generator, limit: int = POOL_FIT_LIMIT) -> list[Any]:
    """The unlabeled inputs every learner gets at fit time (feature statistics, semi-supervised fitting)."""
    return [inputs[int(i)] for i in pool_sample(len(inputs), limit, rng)]


@dataclass
class PoolInputs:
    """Inputs of the pool tasks that loaded, in task-id order, and why the others did not."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    inputs: list[Any] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # task id -> message
    decoded: int = 0  # loaded (read from the database and decoded) this round
    cached: int = 0  # served by the input cache
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.inputs)


def load_inputs(
    *, project_id: int, stamps: Sequence[tuple[int, Hashable]], data_of: DataSource, loader: InputLoader,
    cache: InputCache | None, chunk: int = 2000,
) -> PoolInputs:
    """Inputs for ``stamps`` (task id, version stamp): cached ones as they are, the rest through ``loader``."""
    started = time.perf_counter()
    values: list[Any] = [None] * len(stamps)
    ok = np.zeros(len(stamps), dtype=bool)
    missing: list[int] = []
    out = PoolInputs()
    if cache is not None:
        cache.begin_scan()
    prefix = (project_id, loader.input_kind, loader.config.data_key)
    for position, (task_id, stamp) in enumerate(stamps):
        hit, value = cache.get((*prefix, task_id), stamp) if cache is not None else (False, None)
        if hit:
            values[position], ok[position] = value, True
            out.cached += 1
        else:
            missing.append(position)
    for start in range(0, len(missing), chunk):
        part = missing[start:start + chunk]
        datas = data_of([stamps[p][0] for p in part])
        loaded = loader.load([datas.get(stamps[p][0], {}) for p in part])
        for k, index in enumerate(loaded.positions):
            position = part[index]
            values[position], ok[position] = loaded.inputs[k], True
            if cache is not None:
                cache.put((*prefix, stamps[position][0]), stamps[position][1], loaded.inputs[k])
        for index, message in loaded.errors.items():
            out.errors[stamps[part[index]][0]] = message
        out.decoded += len(loaded.positions)
    kept = np.flatnonzero(ok)
    out.ids = np.array([stamps[p][0] for p in kept], dtype=np.int64)
    out.inputs = [values[p] for p in kept]
    out.seconds = time.perf_counter() - started
    return out


def load_pool(*, session: Session, project_id: int, loader: InputLoader, cache: InputCache | None) -> PoolInputs:
    """Inputs of every unlabeled task of ``project_id``."""
    stamps = crud.pool_task_stamps(session=session, project_id=project_id)

    return load_inputs(project_id=project_id, stamps=stamps,
                       data_of=lambda ids: crud.task_data(session=session, task_ids=ids), loader=loader, cache=cache)


def load_tasks(*, session: Session, tasks: Sequence[Task], loader: InputLoader, cache: InputCache | None) -> PoolInputs:
    """Inputs of ``tasks`` already read (the labelled ones), in their order, checked against their stamps."""
    by_id = {task.id: task.data for task in tasks}
    known = crud.task_stamps(session=session, task_ids=list(by_id))
    stamps = [(task.id, known.get(task.id, "")) for task in tasks]
    project_id = tasks[0].project_id if tasks else 0
    return load_inputs(project_id=project_id, stamps=stamps, data_of=lambda ids: {i: by_id[i] for i in ids},
                       loader=loader, cache=cache)


def tasks_inputs(tasks: Sequence[Task], loader: InputLoader, cache: InputCache | None = None) -> PoolInputs:
    """Inputs of in-memory ``tasks`` (no database)."""
    by_id = {task.id: task.data for task in tasks}
    stamps = [(task.id, str(task.updated_at)) for task in tasks]
    project_id = tasks[0].project_id if tasks else 0
    return load_inputs(project_id=project_id, stamps=stamps, data_of=lambda ids: {i: by_id[i] for i in ids},
                       loader=loader, cache=cache)
