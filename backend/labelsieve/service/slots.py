"""Training slots shared by every project of one backend, handed out first come, first served.

Each project has its own worker thread (:mod:`labelsieve.service.worker`); at most ``max_concurrent_trainings``
rounds train at once. A plain semaphore lets the thread that just released a slot take it straight back (its
project went dirty again during the round), ahead of another project's thread that has been waiting: a busy project
can starve a quiet one. :class:`FairSlots` queues the requests in arrival order (one ticket each) and gives a freed
slot to the oldest ticket, so a project waits for at most the rounds that were asked for before its own.

It also counts, per project, the rounds that had to wait for another project's round and for how long
(``labelsieve_training_slot_waits_total`` and ``labelsieve_training_slot_wait_seconds``; :meth:`stats`).
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


class FairSlots:
    """``with slots.held(project_id): ...``: at most ``size`` holders at once, granted in request order."""

    def __init__(self, size: int, observe: Observer | None = None) -> None:
        self.size = max(1, int(size))
        self.observe = observe
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._busy = 0
        self._stats: dict[int, SlotStats] = {}

    @contextmanager
    def held(self, project_id: int) -> Iterator[None]:
        ticket = object()
        started = time.perf_counter()
        with self._cond:
            self._queue.append(ticket)
            waited = self._busy >= self.size or self._queue[0] is not ticket
            while self._busy >= self.size or self._queue[0] is not ticket:
                self._cond.wait()
            self._queue.popleft()
            self._busy += 1
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
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def waiting(self) -> int:
        """Requests queued for a slot now (tests wait for a round to be queued)."""
        with self._cond:
            return len(self._queue)

    def stats(self) -> dict[int, SlotStats]:
        with self._cond:
            return {pid: SlotStats(**vars(s)) for pid, s in self._stats.items()}
