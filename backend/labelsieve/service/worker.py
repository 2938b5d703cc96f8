"""Background training worker: one thread per project, debounced.

A burst of webhook events sets the project dirty many times but leads to one retrain: the thread
waits until ``debounce_seconds`` pass without a new event, applies every queued event, then
retrains once. Events that arrive during a retrain make the thread go round again afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from labelsieve.service.events import Puller, Verifier, apply_pending
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.observer import ObserverRounds
from labelsieve.service.waiting import WaitBoard
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0
ROUND_EVENTS = 2000  # events applied per round before a retrain (bounds retrain lag under sustained load)


class _ProjectThread(threading.Thread):
    def __init__(self, owner: TrainingWorker, project_id: int) -> None:
        super().__init__(name=f"labelsieve-train-{project_id}", daemon=True)
        self.owner = owner
        self.project_id = project_id
        self.cond = threading.Condition()
        self.dirty = False
        self.force = False
        self.busy = False
        self.last_notify = 0.0

    def notify(self, force: bool) -> None:
        with self.cond:
            self.dirty = True
            self.force = self.force or force
            self.last_notify = time.monotonic()
            self.cond.notify_all()

    def run(self) -> None:
        owner = self.owner
        while not owner.stopping.is_set():
            with self.cond:
                while not self.dirty and not owner.stopping.is_set():
                    self.cond.wait(0.5)
                while not owner.stopping.is_set():
                    remaining = owner.debounce_seconds - (time.monotonic() - self.last_notify)
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
                if owner.stopping.is_set():
                    return
                self.dirty, force, self.force = False, self.force, False
                self.busy = True
            try:
                self._round(force)
            except Exception:  # noqa: BLE001 - the thread must survive anything
                log.exception("training round of project %s failed", self.project_id)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def _round(self, force: bool) -> None:
        owner = self.owner
        puller = owner.puller_factory(self.project_id) if owner.puller_factory else None
        applied = apply_pending(owner.loop.engine, self.project_id, puller=puller, verifier=owner.verifier,
                                max_events=ROUND_EVENTS)
        if applied.more:  # a steady stream: retrain on what is in, then come back for the rest
            self.notify(force=False)
        owner.update_queue_gauge()
        if owner.waits is not None and applied.retry is not None:
            owner.waits.record(self.project_id, applied.retry)
        elif owner.waits is not None and not applied.deferred:
            owner.waits.clear(self.project_id)
        if applied.deferred:
            owner.loop.metrics.failures.labels("labelstudio_unreachable").inc()
            threading.Timer(RETRY_SECONDS, self.notify, kwargs={"force": force or applied.force_train}).start()
            return
        force = force or applied.force_train
        if owner.observer is not None and owner.observer.observes(self.project_id):
            owner.observer.round(self.project_id)  # observer mode: rank another backend's predictions, train nothing
            return
        project = owner.loop.project(self.project_id)
        if applied.changed or force or project.annotations_since_train > 0:
            outcome = owner.loop.retrain(self.project_id, force=force)
            log.info("project %s retrain: %s %s %s in %.2f s %s", self.project_id, outcome.status,
                     outcome.version or "", outcome.reason, outcome.seconds,
                     " ".join(f"{k}={v:.3f}" for k, v in outcome.timings.items()))
            if outcome.status != "trained":  # annotations ate into the head: top it up from the same ranking
                owner.loop.refill(self.project_id)
            if outcome.status == "skipped" and owner.cold_start is not None:  # too few labels: a label-free head
                owner.cold_start(self.project_id)
            elif owner.after_retrain is not None and outcome.version:
                owner.after_retrain(self.project_id, outcome.version)


class TrainingWorker:
    def __init__(
        self,
        *,
        loop: ActiveLearningLoop,
        debounce_seconds: float,
        puller_factory: Callable[[int], Puller | None] | None = None,
        verifier: Verifier | None = None,
        after_retrain: Callable[[int, str], None] | None = None,
        waits: WaitBoard | None = None,
        observer: ObserverRounds | None = None,
        cold_start: Callable[[int], object] | None = None,
    ) -> None:
        self.loop = loop
        #: observer mode's rounds (service/observer.py), run instead of a retrain for projects with ``observe``
        self.observer = observer
        #: called with the project after a retrain skipped (no model yet): ranks cold when the strategy can
        self.cold_start = cold_start
        self.waits = waits
        self.debounce_seconds = debounce_seconds
        self.puller_factory = puller_factory
        self.verifier = verifier
        #: called with (project, version) after each retrain that trained (and pushed) a new version
        self.after_retrain = after_retrain
        self.stopping = threading.Event()
        self._threads: dict[int, _ProjectThread] = {}
        self._lock = threading.Lock()

    def notify(self, project_id: int, *, force: bool = False) -> None:
        with self._lock:
            thread = self._threads.get(project_id)
            if thread is None or not thread.is_alive():
                thread = _ProjectThread(self, project_id)
                self._threads[project_id] = thread
                thread.start()
        thread.notify(force)

    def recover(self) -> list[int]:
        """After a restart: resume every project with queued events or untrained annotations."""
        with session_scope(self.loop.engine) as session:
            pending = set(crud.projects_with_pending_events(session=session))
            pending |= {p.id for p in crud.list_projects(session=session) if p.annotations_since_train > 0}
        for project_id in sorted(pending):
            self.notify(project_id)
        self.update_queue_gauge()
        return sorted(pending)

    def update_queue_gauge(self) -> None:
        with session_scope(self.loop.engine) as session:
            self.loop.metrics.queue_length.set(crud.count_pending_events(session=session))

    def idle(self) -> bool:
        with self._lock:
            threads = list(self._threads.values())
        return all(not (t.dirty or t.busy) for t in threads)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every project thread is idle (tests, CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return self.idle()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            with thread.cond:
                thread.cond.notify_all()
        for thread in threads:
            thread.join(timeout)
