"""Group commit of acknowledged webhooks: the requests that arrive together share one transaction and one fsync.

A webhook is acknowledged only once its inbox row is committed (an acknowledged event survives a crash). With one
commit per request, a burst from many clients pays one fsync each and, on SQLite, queues them on the single writer.
Here each request hands its row to :class:`GroupCommit` and waits; one writer thread takes every row waiting at that
moment (at most ``max_batch``), inserts them in one transaction, commits once, and then releases all their requests
with their event ids. While it commits, the next requests gather for the next batch, so the batch grows with the
load and a lone webhook waits for one commit only, as before. Should a batch's commit fail, its rows are committed
one by one: a bad row fails its own request only, and nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import WebhookEvent

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    project_id: int
    action: str
    payload: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    row: WebhookEvent | None = None
    error: BaseException | None = None
    on_done: Callable[[], object] | None = None  # an async request's wake-up (called from the writer thread)

    def finish(self) -> None:
        self.done.set()
        if self.on_done is not None:
            self.on_done()

    def result(self) -> WebhookEvent:
        if self.error is not None:
            raise self.error
        assert self.row is not None
        return self.row


class GroupCommit:
    """``submit`` stores one inbox row and returns it once committed; concurrent submits share a commit."""

    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.Queue[_Waiting | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: sizes of the committed batches (the tests read it; the last 1 000 are kept)
        self.batch_sizes: deque[int] = deque(maxlen=1000)

    def submit(self, *, project_id: int, action: str, payload: dict[str, Any]) -> WebhookEvent:
        waiting = _Waiting(project_id=project_id, action=action, payload=payload)
        self._ensure_writer()
        self._queue.put(waiting)
        waiting.done.wait()
        return waiting.result()

    async def submit_async(self, *, project_id: int, action: str, payload: dict[str, Any]) -> WebhookEvent:
        """``submit`` for the event loop: the request waits on a future, not on a thread of the pool."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not future.done():  # the client may have gone; the row is stored all the same
                future.set_result(None)

        waiting = _Waiting(project_id=project_id, action=action, payload=payload,
                           on_done=lambda: loop.call_soon_threadsafe(wake))
        self._ensure_writer()
        self._queue.put(waiting)
        await future
        return waiting.result()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_writer(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_loop, name="labelsieve-inbox-writer",
                                                daemon=True)
                self._thread.start()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Waiting]) -> None:
        """Commit the batch in one transaction; should that fail, commit its rows one by one, so that a bad row
        (an id out of the database's range) fails its own request only."""
        try:
            rows = self._insert(batch)
        except BaseException as exc:  # noqa: BLE001 - each request gets its own outcome, the writer goes on
            if len(batch) > 1:
                log.warning("inbox commit of %d webhooks failed (%s: %s); committing them one by one", len(batch),
                            type(exc).__name__, exc)
                for waiting in batch:
                    self._commit([waiting])
                return
            batch[0].error = exc
            batch[0].finish()
            return
        self.batch_sizes.append(len(batch))
        for waiting, row in zip(batch, rows, strict=True):
            waiting.row = row
            waiting.finish()

    def _insert(self, batch: list[_Waiting]) -> list[WebhookEvent]:
        with session_scope(self.engine) as session:
            rows = [crud.add_event(session=session, project_id=w.project_id, action=w.action, payload=w.payload,
                                   flush=False) for w in batch]
            session.flush()
        return rows
