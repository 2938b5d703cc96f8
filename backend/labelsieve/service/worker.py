"""Background training worker: one thread per project; a burst is applied after it, in bulk, and trained on once.

Applying and training are two steps with their own triggers. An acknowledgement never waits for either
(``accept`` only stores the event). Queued webhook events are applied once the project is quiet
(``debounce_seconds`` without a new event), in chunks of at most ``ROUND_EVENTS``, one after the other until the
inbox is caught up; then the retrain follows at once. While a burst still arrives, nothing is applied: applying
would compete with the acknowledgements for the cores and, on SQLite, for the single writer. A stream that never
goes quiet is still applied and trained on: once its oldest unapplied event is ``max_lag_seconds`` old, the thread
applies the inbox and retrains on it (a catch-up of many chunks is finished first, up to ``CATCH_UP_STEPS``
chunks), then the next changes wait for the next quiet or the next lag. A forced round (``notify(force=True)``:
START_TRAINING, a first contact, finished embeddings) is applied without waiting.
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
ROUND_EVENTS = 1000  # events applied per step: between steps the thread checks whether a retrain is due
CATCH_UP_STEPS = 10  # chunks a lagging catch-up applies before its retrain may come first


class _ProjectThread(threading.Thread):
    def __init__(self, owner: TrainingWorker, project_id: int) -> None:
        super().__init__(name=f"labelsieve-train-{project_id}", daemon=True)
        self.owner = owner
        self.project_id = project_id
        self.cond = threading.Condition()
        self.dirty = False  # events were queued (or a round asked for) since the last apply step
        self.dirty_since: float | None = None  # when the oldest event not yet taken by an apply step was notified
        self.more = 0  # chunks applied in a row that stopped with events still queued (a catch-up in progress)
        self.force = False
        self.busy = False
        self.last_notify = 0.0
        self.owed = False  # applied since the last retrain: a retrain step is due once quiet (or lagging)
        self.owed_since: float | None = None  # when the oldest untrained change was applied (the lag bound)
        self.deferred = False  # Label Studio was away: no retrain until the waiting events are applied

    def notify(self, force: bool) -> None:
        with self.cond:
            self.dirty = True
            if self.dirty_since is None:
                self.dirty_since = time.monotonic()
            self.force = self.force or force
            self.last_notify = time.monotonic()
            self.cond.notify_all()

    def _next_step(self) -> str | None:
        """``apply``, ``train`` or ``stop``; None: wait (the caller waits on ``cond`` for ``_wait_seconds``)."""
        owner = self.owner
        if owner.stopping.is_set():
            return "stop"
        now = time.monotonic()
        quiet = now - self.last_notify >= owner.debounce_seconds
        lagging = self.owed_since is not None and now - self.owed_since >= owner.max_lag_seconds
        catching_up = 0 < self.more < CATCH_UP_STEPS
        if self.owed and not self.deferred and ((lagging and not catching_up) or (not self.dirty and quiet)):
            return "train"
        if self.dirty and (self.more or self.force or quiet or self._unapplied_lagging(now)):
            return "apply"
        return None

    def _unapplied_lagging(self, now: float) -> bool:
        return self.dirty_since is not None and now - self.dirty_since >= self.owner.max_lag_seconds

    def _wait_seconds(self) -> float:
        now = time.monotonic()
        quiet = self.owner.debounce_seconds - (now - self.last_notify)
        waits = [0.5]
        if self.dirty and self.dirty_since is not None:  # deferred apply: the quiet, or the lag bound
            waits += [quiet, self.owner.max_lag_seconds - (now - self.dirty_since)]
        if self.owed and not self.deferred:
            waits.append(quiet)
            if self.owed_since is not None:
                waits.append(self.owner.max_lag_seconds - (now - self.owed_since))
        return max(0.01, min(waits))

    def run(self) -> None:
        while True:
            with self.cond:
                step = self._next_step()
                while step is None:
                    self.cond.wait(self._wait_seconds())
                    step = self._next_step()
                if step == "stop":
                    return
                arrived = self.dirty_since
                if step == "apply":
                    self.dirty, self.dirty_since = False, None
                else:
                    self.owed, force, self.force, self.owed_since = False, self.force, False, None
                self.busy = True
            try:
                if step == "apply":
                    self._apply(arrived)
                else:
                    self._train(force)
            except Exception:  # noqa: BLE001 - the thread must survive anything
                log.exception("%s step of project %s failed", step, self.project_id)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def _apply(self, arrived: float | None) -> None:
        """Apply a chunk of the inbox; ``arrived``: when its oldest event was notified (the retrain's lag)."""
        owner = self.owner
        puller = owner.puller_factory(self.project_id) if owner.puller_factory else None
        verifier = owner.verifier_factory(self.project_id) if owner.verifier_factory else None
        applied = apply_pending(owner.loop.engine, self.project_id, puller=puller, verifier=verifier,
                                max_events=owner.round_events)
        owner.update_queue_gauge()
        if owner.waits is not None and applied.retry is not None:
            owner.waits.record(self.project_id, applied.retry)
        elif owner.waits is not None and not applied.deferred:
            owner.waits.clear(self.project_id)
        with self.cond:
            self.dirty = self.dirty or applied.more  # the rest of a burst: applied next, unless a retrain is due
            if applied.more and self.dirty_since is None:
                self.dirty_since = arrived
            self.more = self.more + 1 if applied.more else 0
            self.force = self.force or applied.force_train
            self.owed = True  # the train step decides whether anything is new (a restart's untrained labels too)
            if (applied.changed or applied.force_train or self.force) and self.owed_since is None:
                self.owed_since = arrived if arrived is not None else time.monotonic()
            self.deferred = applied.deferred
        if applied.deferred:
            owner.loop.metrics.failures.labels("labelstudio_unreachable").inc()
            threading.Timer(RETRY_SECONDS, self.notify, kwargs={"force": False}).start()

    def _train(self, force: bool) -> None:
        owner = self.owner
        if owner.observer is not None and owner.observer.observes(self.project_id):
            owner.observer.round(self.project_id)  # observer mode: rank another backend's predictions, train nothing
            return
        project = owner.loop.project(self.project_id)
        if not (force or project.annotations_since_train > 0):
            return
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
        max_lag_seconds: float = 60.0,
        round_events: int = ROUND_EVENTS,
        puller_factory: Callable[[int], Puller | None] | None = None,
        verifier_factory: Callable[[int], Verifier | None] | None = None,
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
        #: a stream that never goes quiet is applied and retrained once its oldest waiting change is this old
        self.max_lag_seconds = max_lag_seconds
        self.round_events = round_events
        self.puller_factory = puller_factory
        #: the project's webhook check for one apply step (its Label Studio client looked up once per step)
        self.verifier_factory = verifier_factory
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
        return all(not (t.dirty or t.busy or (t.owed and not t.deferred)) for t in threads)

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
