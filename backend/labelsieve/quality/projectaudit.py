"""The audit of a live project (``GET /projects/{id}/audit``, ``labelsieve audit --project``): its labelled tasks
and its pool, on the serving learner's features (``embed``).

Bounded cost: at most ``max_tasks`` (20,000) tasks are loaded and embedded, the labelled ones first (up to half),
the rest a uniform random sample of the pool; the report says how many of how many. Tasks whose input cannot be
read (a missing file, an undecodable image) are listed as unreadable and the audit goes on without them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from labelsieve.quality.audit import audit
from labelsieve.quality.host import QualityHost
from labelsieve.quality.scorecard_files import scorecard_dir
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

MAX_TASKS = 20_000


class NoModelError(RuntimeError):
    """The project has no serving model: no features to audit on."""


def project_audit(host: QualityHost, project_id: int, *, max_tasks: int = MAX_TASKS, seed: int = 0) -> dict[str, Any]:
    project = host.project(project_id)  # UnknownProjectError when it is not set up
    served = host.serving_model(project)
    if served is None:
        raise NoModelError(f"project {project_id} has no trained model yet: the audit needs its features")
    version, learner = served
    with session_scope(host.engine) as session:
        examples = crud.labeled_examples(session=session, project_id=project_id)
        pool = crud.pool_tasks(session=session, project_id=project_id)
    rng = np.random.default_rng(seed)
    labelled = examples if len(examples) <= max_tasks // 2 else [
        examples[i] for i in np.sort(rng.choice(len(examples), max_tasks // 2, replace=False))]
    room = max_tasks - len(labelled)
    sampled_pool = pool if len(pool) <= room else [pool[i] for i in np.sort(rng.choice(len(pool), room, replace=False))]
    tasks = [t for t, _ in labelled] + list(sampled_pool)
    labels: list[str | None] = [a.labels[0] if a.labels else None for _, a in labelled] + [None] * len(sampled_pool)
    sets = ["labelled"] * len(labelled) + ["pool"] * len(sampled_pool)
    loaded = host.input_loader(project, learner.input_kind).load([t.data for t in tasks])
    keep = list(loaded.positions)
    unreadable = sorted(int(tasks[i].id) for i in set(range(len(tasks))) - set(keep))
    features = np.asarray(learner.embed(loaded.inputs), dtype=np.float64) if keep else np.zeros((0, 1))
    report = audit(features, sets=[sets[i] for i in keep], labels=[labels[i] for i in keep],
                   ids=[int(tasks[i].id) for i in keep], unreadable=unreadable, seed=seed)
    result = {"project_id": project_id, "version": version, "features": f"{learner.input_kind} learner's embed",
              "tasks": {"labelled": len(examples), "pool": len(pool), "audited": len(tasks),
                        "sampled": len(tasks) < len(examples) + len(pool)}, **report}
    path = scorecard_dir(host.artifacts, project_id, version) / "audit.json"  # the page shows the latest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, default=str), encoding="utf-8")
    return result


def audit_stamp(host: QualityHost, project_id: int, version: str | None) -> float | None:
    """When the serving version's audit was written (the page's cache key), or None."""
    if not version:
        return None
    path = scorecard_dir(host.artifacts, project_id, version) / "audit.json"
    return path.stat().st_mtime if path.exists() else None


def latest_audit(host: QualityHost, project_id: int, versions: list[str]) -> dict[str, Any] | None:
    """The newest stored audit of the project (written by the last ``project_audit``), or None."""
    for version in reversed(versions):
        path = scorecard_dir(host.artifacts, project_id, version) / "audit.json"
        if path.exists():
            return dict(json.loads(path.read_text(encoding="utf-8")))
    return None
