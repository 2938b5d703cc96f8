"""Push a new ranking into Label Studio so that Uncertainty sampling serves labelsieve's order.

Label Studio's ``Uncertainty sampling`` serves the lowest prediction ``score`` first, but only among
predictions whose ``model_version`` equals the project's ``model_version`` (else: random order).
After each retrain :class:`LabelStudioPublisher`:

1. pushes one prediction for each of the first ``queue_depth`` unlabeled tasks of the ranking (the head;
   ``queue_depth: "all"``: every ranked task), in rank order, ``score = (rank + 1) / (n + 1)`` over the whole
   ranking — rank 0 (label first) gets the lowest score — by the cheapest path the server offers
   (:mod:`labelsieve.labelstudio.pusher`); on a big project whose server recounts it on every bulk import (the
   legacy path), the first :data:`~labelsieve.labelstudio.pusher.LEAD` go first, one request each, the project
   is switched, and the rest follows by the bulk import: the new rank 0 is served before the recount ends;
2. switches the project (``PATCH /api/projects/{id}/`` ``model_version=<new>``, and
   ``sampling="Uncertainty sampling"`` unless ``set_sampling=False``), and keeps the Data Manager tab ordered
   by the score first (:mod:`labelsieve.labelstudio.dmtab`);
3. starts the deletion of labelsieve's older versions in Label Studio beyond the newest ``keep_versions``
   (``DELETE /api/projects/{id}/model-versions/``, O(head); other models' versions are never touched) in the
   background: it is held until the next round starts and joined before that round's push
   (:mod:`labelsieve.labelstudio.stale_versions`), so it runs while labelsieve fits, not while annotators ask ``/next``.

Between retrains :meth:`LabelStudioPublisher.refill` extends the head from the same stored ranking once
fewer than half of ``queue_depth`` pushed tasks are left unannotated, so Label Studio never runs out of
current predictions (and never falls back to random) while ranked tasks remain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.client import LabelStudioClient
from labelsieve.labelstudio.dmtab import ensure_ranking_tab
from labelsieve.labelstudio.head import QueueState, read_ranking, remaining, take_unlabeled
from labelsieve.labelstudio.pusher import PredictionPusher, PushStats
from labelsieve.labelstudio.stale_versions import StaleVersionRemover
from labelsieve.settings import ProjectSettings
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.preannotation import gate_for
from labelsieve.storage.rankings import Ranking
from labelsieve.tasktypes import task_type_for
from labelsieve.tasktypes.classification import ClassPrediction

log = logging.getLogger(__name__)
UNCERTAINTY = "Uncertainty sampling"

ClientFactory = Callable[[int], LabelStudioClient | None]
#: settings_of(project_id) → the project's resolved settings (``queue_depth``: how many ranked tasks get a
#: prediction, None: all of them; ``preannotate_threshold``: the pre-annotation gate)
SettingsOf = Callable[[int], ProjectSettings]
#: without ``settings_of``: every ranked task gets a prediction, the default pre-annotation gate
EVERY_TASK = ProjectSettings(queue_depth=None)
RankingOf = Callable[[int, str], Ranking]


@dataclass
class PublishResult:
    project_id: int
    version: str
    pushed: int
    seconds: float
    import_seconds: float = 0.0  # pushing the predictions (every request together)
    batches: int = 0  # requests that pushing took
    patch_seconds: float = 0.0  # PATCH the project's model_version (the ranking is live after this)
    prune_wait_seconds: float = 0.0  # waiting for the last round's prune to finish before pushing
    path: str = ""  # how they went in (see pusher.PushStats.path)
    tab_seconds: float = 0.0


@dataclass
class RefillResult:
    project_id: int
    version: str
    pushed: int
    remaining_before: int
    seconds: float
    path: str = ""


@dataclass
class _Head:
    state: QueueState
    ranking: Ranking | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class LabelStudioPublisher:
    """Callable as the loop's ``publisher(project_id, version)``; ``refill(project_id)`` between retrains."""

    def __init__(self, *, engine: Engine, client_factory: ClientFactory, batch_size: int = 25000,
                 keep_versions: int = 2, set_sampling: bool = True, settings_of: SettingsOf | None = None,
                 state_dir: Path | None = None, pusher: PredictionPusher | None = None,
                 ranking_of: RankingOf | None = None, manage_tab: bool = True,
                 pruner: StaleVersionRemover | None = None,
                 task_total_of: Callable[[int], int | None] | None = None) -> None:
        self.engine = engine
        #: Label Studio's task count of a project while labelsieve holds only part of it (a first contact syncing)
        self.task_total_of = task_total_of or (lambda _pid: None)
        self.client_factory = client_factory
        self.keep_versions = keep_versions
        #: the stale versions' deletion, in the background between one round's switch and the next one's push
        self.pruner = pruner or StaleVersionRemover(keep_versions=keep_versions)
        self.set_sampling = set_sampling
        self.settings_of = settings_of or (lambda _pid: EVERY_TASK)
        self.state_dir = state_dir
        self.pusher = pusher or PredictionPusher(batch_size=batch_size)
        self.ranking_of = ranking_of or (lambda pid, version: read_ranking(engine, pid, version))
        self.manage_tab = manage_tab
        self.last: PublishResult | None = None
        self.last_refill: RefillResult | None = None
        self._heads: dict[int, _Head] = {}
        self._heads_lock = threading.Lock()

    def __call__(self, project_id: int, version: str) -> None:
        client = self.client_factory(project_id)
        if client is None:
            return
        self.last = self.publish(client, project_id, version)

    # ------------------------------------------------------------------ payload
    def _payload(self, project_id: int, version: str, ranking: Ranking, ranks: list[int]) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
            if project is None:
                return []
            served = task_type_for(project.label_config)
            gate = gate_for(session=session, project_id=project_id,
                            threshold=self.settings_of(project_id).preannotate_threshold)
        # the answer pre-ticked only where the model is likely right; the score alone ranks the rest. The task
        # type writes the regions, each with its own score (the model's confidence in it)
        payload = []
        for r in ranks:
            task_id, score = int(ranking.task_ids[r]), float(ranking.scores[r])
            confidence = float(ranking.confidence[r])
            if ranking.regions is not None:  # a region task type: the regions the ranking round predicted
                payload.append({"task": task_id, "model_version": version, "score": score,
                                "result": list(ranking.regions[r]) if gate.allows(confidence) else []})
                continue
            output = ClassPrediction(tuple(ranking.labels_at(r)), confidence)
            payload.append({"task": task_id, "model_version": version, "score": score,
                            "result": served.task_type.prediction_result(
                                served.config, output, preannotate=gate.allows(confidence))})
        return payload

    def _task_count(self, project_id: int) -> int:
        """The project's task count in Label Studio, as far as labelsieve knows (what a legacy import recounts)."""
        with session_scope(self.engine) as session:
            own = crud.count_tasks(session=session, project_id=project_id)
        return max(own, self.task_total_of(project_id) or 0)

    # ------------------------------------------------------------------ publish
    def publish(self, client: LabelStudioClient, project_id: int, version: str) -> PublishResult:
        started = time.perf_counter()
        ranking = self.ranking_of(project_id, version)
        depth = self.settings_of(project_id).queue_depth
        ranks, upto = take_unlabeled(self.engine, project_id, ranking, 0, depth)
        payload = self._payload(project_id, version, ranking, ranks)
        waited = self.pruner.join(project_id)  # the last round's prune: one writer at a time in Label Studio
        pushing = time.perf_counter()
        project_tasks = self._task_count(project_id)
        lead = self.pusher.lead(client, project_id, len(payload), project_tasks)
        stats = self.pusher.push(client, project_id, payload[:lead] if lead else payload, project_tasks=project_tasks,
                                 single=bool(lead))
        imported = time.perf_counter()
        if not payload:  # Label Studio refuses a model_version no prediction carries (HTTP 400)
            return PublishResult(project_id, version, 0, imported - started, prune_wait_seconds=waited)
        head = _Head(QueueState(version=version, depth=depth, upto=upto,
                                pushed=[p["task"] for p in payload] if depth is not None else []), ranking)
        with self._heads_lock:
            self._heads[project_id] = head
        self._save(project_id, head.state)
        fields: dict[str, Any] = {"model_version": version}
        if self.set_sampling:
            fields["sampling"] = UNCERTAINTY
        self._keep_title(project_id, client.update_project(project_id, **fields).get("title"))
        patched = time.perf_counter()
        if self.manage_tab:
            try:
                ensure_ranking_tab(client, project_id)
            except Exception:  # noqa: BLE001 - the ranking is live without the tab; retried next round
                log.exception("project %s: could not keep the Data Manager ranking tab", project_id)
        tabbed = time.perf_counter()
        import_seconds = imported - pushing
        if lead:  # live with the lead: the rest by the bulk import, which recounts the project
            rest = self.pusher.push(client, project_id, payload[lead:], project_tasks=project_tasks)
            stats = PushStats(stats.pushed + rest.pushed, stats.requests + rest.requests,
                              f"single{lead}+{rest.path}", stats.seconds + rest.seconds)
            import_seconds += rest.seconds
        done = time.perf_counter()
        self.pruner.start(client, project_id, version)  # held until the next round starts (stale_versions.py)
        result = PublishResult(project_id, version, stats.pushed, done - started, import_seconds=import_seconds,
                               batches=stats.requests, patch_seconds=patched - imported, prune_wait_seconds=waited,
                               path=stats.path, tab_seconds=tabbed - patched)
        log.info("project %s: pushed %d predictions of %s (%s, %d request(s)) in %.2f s (import %.2f s, patch %.2f s, "
                 "waited %.2f s for the last prune)", project_id, stats.pushed, version, stats.path,
                 stats.requests, result.seconds, result.import_seconds, result.patch_seconds, waited)
        return result

    def round_starting(self, project_id: int) -> None:
        """A round of ``project_id`` starts: the last round's prune runs now, while this one fits and ranks."""
        self.pruner.release(project_id)

    def stale_versions_status(self, project_id: int) -> dict[str, Any] | None:
        """The project's last prune of stale versions in Label Studio (see :meth:`StaleVersionRemover.status`)."""
        return self.pruner.status(project_id)

    def last_pushed(self, version: str) -> int:
        """How many predictions the last publish pushed, when it published ``version`` (else 0)."""
        last = self.last
        return last.pushed if last is not None and last.version == version else 0

    def stop(self) -> None:
        """Shutdown: run the held prunes now and wait for them."""
        self.pruner.stop()

    def _keep_title(self, project_id: int, title: str | None) -> None:
        """Label Studio's name of the project, for its page: ``/setup`` never carries it, nor do all webhooks."""
        if not title:
            return
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
            if project is not None and project.title != title:
                project.title = title
                session.add(project)

    # ------------------------------------------------------------------- refill
    def _state_path(self, project_id: int) -> Path | None:
        return None if self.state_dir is None else self.state_dir / f"project-{project_id}.json"

    def _save(self, project_id: int, state: QueueState) -> None:
        path = self._state_path(project_id)
        if path is not None:
            state.save(path)

    def _head(self, project_id: int, version: str) -> _Head | None:
        with self._heads_lock:
            head = self._heads.get(project_id)
        if head is not None and head.state.version == version:
            return head
        path = self._state_path(project_id)
        state = QueueState.load(path) if path is not None else None
        if state is None or state.version != version:
            return None
        head = _Head(state)
        with self._heads_lock:
            self._heads[project_id] = head
        return head

    def queue(self, project_id: int, version: str | None) -> dict[str, Any] | None:
        """The head's state for status pages: version, depth, pushed, unannotated left, ranks covered."""
        head = self._head(project_id, version) if version else None
        if head is None or head.state.depth is None:
            return None
        state = head.state
        return {"version": state.version, "queue_depth": state.depth, "pushed": len(state.pushed),
                "remaining": remaining(self.engine, project_id, state), "upto": state.upto}

    def refill(self, project_id: int, version: str | None) -> RefillResult | None:
        """Extend the head of ``version`` (the serving one) when fewer than half its depth is left unannotated."""
        head = self._head(project_id, version) if version else None
        if head is None or head.state.depth is None:
            return None
        with head.lock:
            state = head.state
            left = remaining(self.engine, project_id, state)
            if left * 2 >= state.depth:
                return None
            client = self.client_factory(project_id)
            if client is None:
                return None
            started = time.perf_counter()
            if head.ranking is None:
                head.ranking = self.ranking_of(project_id, state.version)
            ranks, upto = take_unlabeled(self.engine, project_id, head.ranking, state.upto, state.depth - left)
            payload = self._payload(project_id, state.version, head.ranking, ranks)
            self.pruner.join(project_id)  # never beside the prune in Label Studio
            stats: PushStats = self.pusher.push(client, project_id, payload,
                                                project_tasks=self._task_count(project_id))
            state.upto = upto
            state.pushed.extend(p["task"] for p in payload)
            self._save(project_id, state)
            result = RefillResult(project_id, state.version, stats.pushed, left, time.perf_counter() - started,
                                  stats.path)
        self.last_refill = result
        if result.pushed:
            log.info("project %s: refilled the head of %s with %d predictions (%d left unannotated) in %.2f s",
                     project_id, state.version, result.pushed, left, result.seconds)
        return result
