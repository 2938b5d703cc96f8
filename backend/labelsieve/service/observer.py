"""Observer mode: rank a project from another backend's stored predictions, without training anything.

A project with the ``observe`` setting (``"yolo-v8"``, or ``"auto"``: the newest version not written by
labelsieve) gets, instead of a retrain, an observer round (the worker calls :meth:`ObserverRounds.round` where it
would call the loop's retrain):

1. read the other backend's predictions incrementally (:mod:`labelsieve.labelstudio.observed`);
2. per unlabelled task, its newest prediction of the observed version(s): the per-box ``score`` of every region is
   read as a two-way distribution and aggregated with the task type's default aggregation (boxes: ``sum`` of
   binary entropies; an image the backend found nothing in scores ``EMPTY_WITHOUT_CANDIDATES``:
   :mod:`labelsieve.detection.observer`);
3. push the head (``queue_depth`` most uncertain tasks) as labelsieve's own prediction version
   ``labelsieve-observer-<n>``, each prediction **carrying the other backend's regions unchanged** (so annotators
   see the same boxes) with labelsieve's rank as its ``score``; switch the project's ``model_version`` to it and
   ``sampling`` to Uncertainty sampling; delete labelsieve's older observer versions. Label Studio 1.23.2 orders
   the queue, and shows predictions in the label stream, only for the project's one ``model_version``: the carry
   over is what keeps the boxes in front of annotators (docs/observer-mode.md). An unchanged head is not pushed
   again.

Label Studio sends no webhook when a prediction is stored, so a round also runs every ``observe_poll_seconds``
(and at once after annotation webhooks, Start Training and the first ``/setup``). Nothing is trained: the project
never gets a model version of its own in labelsieve. The last round's summary is the status's ``observer``.

The read state lives in labelsieve's store (``observedproject``: the read position, the push and the last round's
summary; ``observedtask``: one row per observed task). A round writes the project row and only the task rows its
read changed (``read.rows_written`` in the summary), so what a round writes follows the change, not the project.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from labelsieve.detection.observer import detections_from_prediction
from labelsieve.detection.uncertainty import image_uncertainty
from labelsieve.labelstudio.client import LabelStudioClient
from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.labelstudio.observed import ObservedReader, ObservedState
from labelsieve.labelstudio.pusher import PredictionPusher
from labelsieve.service.observe_setting import AUTO, observed_versions
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import utcnow
from labelsieve.tasktypes import ServedConfig, task_type_for

log = logging.getLogger(__name__)
VERSION_PREFIX = "labelsieve-observer-"
UNCERTAINTY = "Uncertainty sampling"
NO_SCORES = ("the observed backend writes no score on its regions (per box) or predictions: there is no ranking "
             "signal, so labelsieve pushes nothing and Label Studio's queue is unchanged. Ask that backend to write a "
             "score on every region (Label Studio's YOLO example does)")


def task_uncertainty(served: ServedConfig, prediction: dict[str, Any], aggregation: str) -> tuple[float, int, int]:
    """(uncertainty, regions, regions with a score) of one stored prediction of another backend.

    Boxes: every box's score as a two-way distribution, aggregated (``aggregation``); an image without a box scores
    ``EMPTY_WITHOUT_CANDIDATES``. Single-label: least confidence ``1 - score`` of the choice (its region's score,
    else the prediction's: Label Studio's example backends write the latter); no choice or no score: 1.0 (doubtful)."""
    config = served.config
    if served.name == "boxes":
        detections, scored = detections_from_prediction(prediction["result"], from_name=config.from_name,
                                                        labels=config.labels)
        return image_uncertainty(detections, aggregation=aggregation), len(detections), scored
    choices = [r for r in prediction["result"] if isinstance(r, dict) and r.get("from_name") == config.from_name]
    score = next((r.get("score") for r in choices if _number(r.get("score"))), prediction.get("score"))
    if not choices or not _number(score):
        return 1.0, len(choices), 0
    return 1.0 - float(np.clip(score, 0.0, 1.0)), len(choices), 1


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


class ObserverRounds:
    """Observer rounds of the projects with the ``observe`` setting; ``notify(project)`` asks for a round later."""

    def __init__(self, *, engine: Engine, settings: Settings, gateway: LabelStudioGateway,
                 pusher: PredictionPusher | None = None, notify: Callable[[int], None] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.gateway = gateway
        self.pusher = pusher or PredictionPusher()
        self.notify = notify
        self.reader = ObservedReader()
        self._timers: dict[int, threading.Timer] = {}
        self._states: dict[int, ObservedState] = {}
        #: project -> task -> ((prediction id, aggregation, config), uncertainty, regions, scored regions)
        self._scores: dict[int, dict[int, tuple[Any, float, int, int]]] = {}
        self._lock = threading.Lock()
        self._stopped = False

    # ----------------------------------------------------------------- settings
    def _setting(self, project_settings: dict[str, Any] | None, name: str) -> Any:
        stored = project_settings or {}
        return stored[name] if name in stored else getattr(self.settings, name)

    def observes(self, project_id: int) -> bool:
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
        return project is not None and self._setting(project.settings, "observe") is not None

    def wants_round(self, project_id: int) -> bool:
        """An observing project with no round scheduled (its first ``/setup``, or the first after a restart)."""
        with self._lock:
            timer = self._timers.get(project_id)
        return (timer is None or not timer.is_alive()) and self.observes(project_id)

    def status(self, project_id: int) -> dict[str, Any] | None:
        """The last observer round of the project (None when it never had one): its project row's summary."""
        with session_scope(self.engine) as session:
            row = crud.get_observed_project(session=session, project_id=project_id)
            return None if row is None or row.status is None else dict(row.status)

    def _state(self, project_id: int) -> ObservedState:
        """The project's read state, kept in memory between rounds (loaded from its rows after a restart)."""
        state = self._states.get(project_id)
        if state is None:
            with session_scope(self.engine) as session:
                row = crud.get_observed_project(session=session, project_id=project_id)
                position = None if row is None else {name: getattr(row, name) for name in ObservedState().position()}
                tasks = crud.observed_tasks(session=session, project_id=project_id) if row is not None else {}
            state = self._states[project_id] = ObservedState.from_rows(position, tasks)
        return state

    def _store(self, project_id: int, state: ObservedState, summary: dict[str, Any]) -> None:
        """Write the project row (position, push, summary) and the task rows the read changed."""
        changed, removed = state.take_changes()
        try:
            with session_scope(self.engine) as session:
                crud.save_observed_tasks(session=session, project_id=project_id, changed=changed, removed=removed)
                crud.save_observed_project(session=session, project_id=project_id, status=summary,
                                           **state.position())
        except Exception:
            state.changed |= set(changed) - state.removed  # not stored: the next round writes them
            state.removed |= removed
            raise

    # -------------------------------------------------------------------- round
    def round(self, project_id: int) -> dict[str, Any]:
        """Read, rank, push (see the module docstring); the summary the status shows. Never raises."""
        started = time.perf_counter()
        state = self._state(project_id)
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
        if project is None:  # deleted meanwhile
            return {"mode": "observer", "message": f"project {project_id} is not set up"}
        observe = str(self._setting(project.settings, "observe"))
        summary: dict[str, Any] = {"mode": "observer", "observe": observe, "at": utcnow().isoformat()}
        try:
            client = self.gateway.client(project_id, project)
            if client is None:
                summary["message"] = ("no Label Studio URL and key (LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY, or the "
                                      "project's /setup): nothing to observe")
            else:
                summary.update(self._round(client, project_id, project.label_config, project.settings, observe,
                                           state))
        except Exception as exc:  # noqa: BLE001 - the next round tries again; the status says why
            log.exception("observer round of project %s failed", project_id)
            summary["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        summary["seconds"] = round(time.perf_counter() - started, 3)
        if "read" in summary:
            summary["read"]["rows_written"] = len(state.changed) + len(state.removed)
        self._store(project_id, state, summary)
        log.info("project %s: observer round %s", project_id, json.dumps({k: v for k, v in summary.items()
                                                                         if k != "message"}))
        self._schedule(project_id, int(self._setting(project.settings, "observe_poll_seconds")))
        return summary

    def _round(self, client: LabelStudioClient, project_id: int, label_config: str,
               project_settings: dict[str, Any] | None, observe: str, state: ObservedState) -> dict[str, Any]:
        read = self.reader.read(client, project_id, state)
        out: dict[str, Any] = {"read": {"how": read.how, "tasks_read": read.tasks_read, "requests": read.requests,
                                        "seconds": round(read.seconds, 3), "tasks_known": len(state.tasks)}}
        names = observed_versions(observe) if observe.strip() != AUTO else tuple(filter(None, [state.newest_version()]))
        out["versions"] = list(names)
        served = task_type_for(label_config)
        aggregation = served.task_type.default_aggregation if served.name == "boxes" else "least_confidence"
        out["aggregation"] = aggregation
        annotated = self._annotated(project_id, list(state.tasks))  # annotations labelsieve got by webhook count too
        ranked: list[tuple[float, int, dict[str, Any]]] = []
        observed = scored_tasks = regions = scored_regions = 0
        scores = self._scores.setdefault(project_id, {})
        for task_id, entry in state.tasks.items():
            chosen = [entry["versions"][v] for v in names if v in entry["versions"]]
            if not chosen:
                continue
            observed += 1
            prediction = max(chosen, key=lambda p: p["id"])
            key = (prediction["id"], aggregation, label_config)
            hit = scores.get(task_id)
            if hit is None or hit[0] != key:  # computed once per stored prediction, not once per round
                hit = scores[task_id] = (key, *task_uncertainty(served, prediction, aggregation))
            _, uncertainty, n_regions, scored = hit
            regions += n_regions
            scored_regions += scored
            scored_tasks += scored > 0
            if not entry["labeled"] and task_id not in annotated:
                ranked.append((uncertainty, task_id, prediction))
        out.update({"tasks_observed": observed, "tasks_scored": scored_tasks, "regions": regions,
                    "regions_scored": scored_regions, "unlabeled_ranked": len(ranked)})
        if not names or not observed:
            out["message"] = (f"no prediction of {observe!r} in Label Studio yet" if observe.strip() != AUTO else
                              "no prediction of another backend in Label Studio yet")
            return out
        if scored_regions == 0:
            out["message"] = NO_SCORES
            return out
        if not ranked:  # Label Studio refuses a model_version no prediction carries: leave the project as it is
            out["message"] = "every task with a prediction of the observed version(s) is labelled: nothing to rank"
            return out
        ranked.sort(key=lambda item: (-item[0], item[1]))  # most uncertain first; ties by task id
        out.update(self._push(client, project_id, project_settings, ranked, state, read.versions))
        return out

    def _annotated(self, project_id: int, task_ids: list[int], chunk: int = 5000) -> set[int]:
        out: set[int] = set()
        with session_scope(self.engine) as session:
            for start in range(0, len(task_ids), chunk):  # SQLite bounds the parameters of one statement
                out |= crud.annotated_task_ids(session=session, project_id=project_id,
                                               task_ids=task_ids[start:start + chunk])
        return out

    def _push(self, client: LabelStudioClient, project_id: int, project_settings: dict[str, Any] | None,
              ranked: list[tuple[float, int, dict[str, Any]]], state: ObservedState,
              versions: dict[str, int]) -> dict[str, Any]:
        depth = self._setting(project_settings, "queue_depth")
        head = ranked if depth in (None, "all") else ranked[:int(depth)]
        n = len(ranked)
        scores = [(rank + 1) / (n + 1) for rank in range(len(head))]
        key = hashlib.sha1(json.dumps([[t, p["id"], s] for (_, t, p), s in zip(head, scores, strict=True)])
                           .encode()).hexdigest()
        current = f"{VERSION_PREFIX}{state.round}"
        out: dict[str, Any] = {"head": [t for _, t, _ in head[:10]],
                               "head_uncertainty": [round(u, 4) for u, _, _ in head[:10]]}
        if key == state.pushed_key and versions.get(current):
            out.update({"version": current, "pushed": 0, "unchanged": True})
            return out
        state.round += 1
        version = f"{VERSION_PREFIX}{state.round}"
        payload = [{"task": task_id, "model_version": version, "score": score, "result": prediction["result"]}
                   for (_, task_id, prediction), score in zip(head, scores, strict=True)]
        stats = self.pusher.push(client, project_id, payload, project_tasks=len(state.tasks))
        client.update_project(project_id, model_version=version, sampling=UNCERTAINTY)
        state.pushed_key = key
        deleted = 0
        for stale in sorted(v for v in versions if v.startswith(VERSION_PREFIX) and v != version):
            deleted += client.delete_model_version(project_id, stale)
        out.update({"version": version, "pushed": stats.pushed, "push_seconds": round(stats.seconds, 3),
                    "push_path": stats.path, "stale_predictions_deleted": deleted,
                    "score_range": [float(np.min(scores)), float(np.max(scores))] if scores else None})
        return out

    # ------------------------------------------------------------------ polling
    def _schedule(self, project_id: int, seconds: int) -> None:
        if seconds <= 0 or self.notify is None:
            return
        with self._lock:
            if self._stopped or (project_id in self._timers and self._timers[project_id].is_alive()):
                return
            timer = threading.Timer(seconds, self._poll, args=(project_id,))
            timer.daemon = True
            self._timers[project_id] = timer
            timer.start()

    def _poll(self, project_id: int) -> None:
        with self._lock:
            self._timers.pop(project_id, None)
            if self._stopped:
                return
        if self.notify is not None:
            self.notify(project_id)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()
