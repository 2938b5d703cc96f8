"""Training slots shared by every project of one backend, handed out first come, first served.

Each project has its own worker thread (:mod:`labelsieve.service.worker`); at most ``max_concurrent_trainings``
rounds train at once. A plain semaphore lets the thread that just released a slot take it straight back (its
project went dirty again during the round), ahead of another project's thread that has been waiting: a busy project
can starve a quiet one. :class:`FairSlots` queues the requests in arrival order (one ticket each) and gives a freed
slot to the oldest ticket, so a project waits for at most the rounds that were asked for before its own.

It also counts, per project, the rounds that had to wait for another project's round and for how long
(``labelsieve_training_slot_waits_total`` and ``labelsieve_training_slot_wait_seconds``; :meth:`stats`).

Rounds come first: background work started after a version (the data-quality pass, the pool's encoding) waits in
:meth:`wait_quiet` until no round is coming (:meth:`expect`: a round refreshing its pool before it asks for a slot),
queued or training. A round that has ranked its pool gives its slot back early (:meth:`Slot.release`): its durable
writes are disk waits, not CPU, and the next project's round may fit meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class SlotStats:
    """One project's use of the training slots."""

    rounds: int = 0
    waited: int = 0  # rounds that found every slot taken by another project's round
    wait_seconds: float = 0.0
    max_wait_seconds: float = 0.0


#: observe(project_id, seconds waited): called after a round that waited got its slot (the service's metrics)
Observer = Callable[[int, float], None]


class Slot:
    """A granted training slot; :meth:`release` gives it back before the ``with`` block ends (once)."""

    def __init__(self, owner: FairSlots) -> None:
        self._owner = owner
        self.released = False

    def release(self) -> None:
        with self._owner._cond:
            if not self.released:
                self.released = True
                self._owner._busy -= 1
                self._owner._cond.notify_all()


class Coming:
    """A round announced by :meth:`FairSlots.expect`; it stops counting once its slot is granted."""

    def __init__(self) -> None:
        self.counted = True


class FairSlots:
    """``with slots.held(project_id): ...``: at most ``size`` holders at once, granted in request order."""

    def __init__(self, size: int, observe: Observer | None = None) -> None:
        self.size = max(1, int(size))
        self.observe = observe
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._busy = 0
        self._coming = 0  # rounds announced (refreshing their pool) that have not asked for their slot yet
        self._stats: dict[int, SlotStats] = {}

    @contextmanager
    def expect(self, project_id: int) -> Iterator[Coming]:
        """A round of ``project_id`` is coming: background work waits for it from now (pass the token to
        :meth:`held`, which stops counting it once the slot is granted)."""
        coming = Coming()
        with self._cond:
            self._coming += 1
        try:
            yield coming
        finally:
            self._uncount(coming)

    def _uncount(self, coming: Coming) -> None:
        with self._cond:
            if coming.counted:
                coming.counted = False
                self._coming -= 1
                self._cond.notify_all()

    def quiet(self) -> bool:
        """No round coming, queued or training (background work may start)."""
        with self._cond:
            return self._is_quiet()

    def _is_quiet(self) -> bool:
        return self._coming == 0 and not self._queue and self._busy == 0

    def wait_quiet(self, timeout: float | None = None) -> bool:
        """Block until :meth:`quiet` (True) or ``timeout`` seconds (False)."""
        with self._cond:
            return self._cond.wait_for(self._is_quiet, timeout)

    @contextmanager
    def held(self, project_id: int, coming: Coming | None = None) -> Iterator[Slot]:
        ticket = object()
        started = time.perf_counter()
        with self._cond:
            self._queue.append(ticket)
            waited = self._busy >= self.size or self._queue[0] is not ticket
            while self._busy >= self.size or self._queue[0] is not ticket:
                self._cond.wait()
            self._queue.popleft()
            self._busy += 1
            if coming is not None and coming.counted:
                coming.counted = False
                self._coming -= 1
            seconds = time.perf_counter() - started
            stats = self._stats.setdefault(project_id, SlotStats())
            stats.rounds += 1
            if waited:
                stats.waited += 1
                stats.wait_seconds += seconds
                stats.max_wait_seconds = max(stats.max_wait_seconds, seconds)
            self._cond.notify_all()  # the next ticket may take a second free slot
        if waited and self.observe is not None:
            self.observe(project_id, seconds)
        slot = Slot(self)
        try:
            yield slot
        finally:
            slot.release()

    def waiting(self) -> int:
        """Requests queued for a slot now (tests wait for a round to be queued)."""
        with self._cond:
            return len(self._queue)

    def stats(self) -> dict[int, SlotStats]:
        with self._cond:
            return {pid: SlotStats(**vars(s)) for pid, s in self._stats.items()}
