"""Push a new ranking into Label Studio so that Uncertainty sampling serves labelsieve's order.

Label Studio's ``Uncertainty sampling`` serves the lowest prediction ``score`` first, but only among
predictions whose ``model_version`` equals the project's ``model_version`` (else: random order).
After each retrain :class:`LabelStudioPublisher`:

1. sends one prediction per ranked unlabeled task in batches (``POST /api/projects/{id}/import/predictions``),
   ``score = (rank + 1) / (n + 1)`` — rank 0 (label first) gets the lowest score. Batches are large (25k,
   ~6 MB of JSON): after every request Label Studio recounts the annotations and predictions of *every* task
   of the project (``data_import/api.py`` 584 and 650), so 10k predictions in 5 requests took 47 s, in 1 took 7.7 s;
2. switches the project (``PATCH /api/projects/{id}/`` ``model_version=<new>``, and
   ``sampling="Uncertainty sampling"`` unless ``set_sampling=False``);
3. deletes labelsieve's older versions in Label Studio beyond the newest ``keep_versions``
   (``DELETE /api/projects/{id}/model-versions/``); versions of other models are never touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelconfig import parse_label_config
from labelsieve.labelstudio.client import LabelStudioClient
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.preannotation import gate_for, threshold_of

log = logging.getLogger(__name__)
UNCERTAINTY = "Uncertainty sampling"
VERSION_PREFIX = "labelsieve-v"

ClientFactory = Callable[[int], LabelStudioClient | None]


@dataclass
class PublishResult:
    project_id: int
    version: str
    pushed: int
    deleted_versions: list[str]
    seconds: float
    import_seconds: float = 0.0  # every POST .../import/predictions together
    batches: int = 0
    patch_seconds: float = 0.0  # PATCH the project's model_version (the ranking is live after this)
    prune_seconds: float = 0.0  # listing and deleting older versions


class LabelStudioPublisher:
    """Callable as the loop's ``publisher(project_id, version)``."""

    def __init__(self, *, engine: Engine, client_factory: ClientFactory, batch_size: int = 25000,
                 keep_versions: int = 2, set_sampling: bool = True, preannotate_threshold: float = 0.8) -> None:
        self.engine = engine
        self.client_factory = client_factory
        self.batch_size = batch_size
        self.keep_versions = keep_versions
        self.set_sampling = set_sampling
        self.preannotate_threshold = preannotate_threshold
        self.last: PublishResult | None = None

    def __call__(self, project_id: int, version: str) -> None:
        client = self.client_factory(project_id)
        if client is None:
            return
        self.last = self.publish(client, project_id, version)

    def predictions_payload(self, project_id: int, version: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
            rows = crud.ranked_predictions(session=session, project_id=project_id, model_version=version)
            if project is None:
                return []
            config = parse_label_config(project.label_config)
            gate = gate_for(session=session, project_id=project_id,
                            threshold=threshold_of(project.settings, self.preannotate_threshold))
            # the answer pre-ticked only where the model is likely right; the score alone ranks the rest
            return [
                {"task": int(row.task_id), "model_version": version, "score": float(row.score),
                 "result": [{"from_name": config.from_name, "to_name": config.to_name, "type": "choices",
                             "value": {"choices": list(row.labels)}}] if gate.allows(row.confidence) else []}
                for row in rows
            ]

    def publish(self, client: LabelStudioClient, project_id: int, version: str) -> PublishResult:
        started = time.perf_counter()
        payload = self.predictions_payload(project_id, version)
        pushed = batches = 0
        for start in range(0, len(payload), self.batch_size):
            pushed += client.import_predictions(project_id, payload[start:start + self.batch_size])
            batches += 1
        imported = time.perf_counter()
        if not payload:  # Label Studio refuses a model_version no prediction carries (HTTP 400)
            return PublishResult(project_id, version, 0, [], imported - started)
        fields: dict[str, Any] = {"model_version": version}
        if self.set_sampling:
            fields["sampling"] = UNCERTAINTY
        client.update_project(project_id, **fields)
        patched = time.perf_counter()
        deleted = self._prune(client, project_id, version)
        done = time.perf_counter()
        result = PublishResult(project_id, version, pushed, deleted, done - started, import_seconds=imported - started,
                               batches=batches, patch_seconds=patched - imported, prune_seconds=done - patched)
        log.info("project %s: pushed %d predictions of %s to Label Studio in %.2f s (import %.2f s in %d batch(es), "
                 "patch %.2f s, prune %.2f s; deleted %s)", project_id, pushed, version, result.seconds,
                 result.import_seconds, batches, result.patch_seconds, result.prune_seconds, deleted or "none")
        return result

    def _prune(self, client: LabelStudioClient, project_id: int, current: str) -> list[str]:
        ours = [v for v in client.model_versions(project_id) if v.startswith(VERSION_PREFIX) and v != current]
        ours.sort(key=_version_number)
        stale = ours[: max(0, len(ours) - (self.keep_versions - 1))]
        for version in stale:
            client.delete_model_version(project_id, version)
        return stale


def _version_number(version: str) -> int:
    try:
        return int(version[len(VERSION_PREFIX):].split("-")[0])
    except ValueError:
        return -1
