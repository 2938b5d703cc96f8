"""Webhooks that arrive together share one commit (service/intake.py), and none is answered before it is stored.

Proved at the writer's commit (held on a test event), not by timing: while the first batch's commit is held, the
other requests queue; released, they are committed as one batch, each gets its own row, and every row is in the
database when its request returns. A batch whose commit fails is committed row by row: the bad row fails its own
request, the others are stored and answered.
"""

from __future__ import annotations

import threading

from benchmarks.load import PROJECT, make_events


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    with session_scope(engine) as session:
        return len(crud.pending_events(session=session, project_id=PROJECT, limit=10_000))


def _held_intake(settings_factory, monkeypatch, bad: int | None = None):  # type: ignore[no-untyped-def]
    from labelsieve.service import intake as intake_module
    from labelsieve.service.container import build_service

    service = build_service(settings_factory(start_workers=False))
    entered, release = threading.Event(), threading.Event()
    add_event = intake_module.crud.add_event
    calls = []

    def held_add(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:  # the first batch's commit waits for the test
            entered.set()
            release.wait(60)
        elif kwargs["payload"]["annotation"]["id"] == bad:
            raise RuntimeError("value out of range")
        return add_event(**kwargs)

    monkeypatch.setattr(intake_module.crud, "add_event", held_add)
    return service, entered, release


def _submit_all(service, payloads):  # type: ignore[no-untyped-def]
    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service.events import accept

    results: dict[int, object] = {}

    def one(k: int) -> None:
        try:
            row = accept(service.engine, WebhookPayload.model_validate(payloads[k]), intake=service.intake)
            results[k] = (row.id, _count(service.engine))
        except Exception as exc:  # noqa: BLE001 - the test reads it
            results[k] = exc

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(payloads))]
    return threads, results


def test_webhooks_that_arrive_together_share_one_commit(settings_factory, monkeypatch) -> None:
    service, entered, release = _held_intake(settings_factory, monkeypatch)
    try:
        threads, results = _submit_all(service, make_events(9))
        threads[0].start()
        assert entered.wait(30)
        for thread in threads[1:]:
            thread.start()
        while service.intake._queue.qsize() < 8:  # noqa: SLF001 - the eight wait behind the held commit
            threading.Event().wait(0.01)
        assert _count(service.engine) == 0 and not results, "answered before the commit"
        release.set()
        for thread in threads:
            thread.join(30)
        assert list(service.intake.batch_sizes) == [1, 8]
        ids = [results[k][0] for k in range(9)]
        assert len(set(ids)) == 9, "each webhook has its own inbox row"
        assert all(results[k][1] >= 1 for k in range(9)), "a request returned before its row was stored"
        assert _count(service.engine) == 9
    finally:
        release.set()
        service.stop()


def test_a_bad_row_fails_its_own_request_not_its_batch(settings_factory, monkeypatch) -> None:
    service, entered, release = _held_intake(settings_factory, monkeypatch, bad=3)
    try:
        threads, results = _submit_all(service, make_events(5))  # annotation ids 1..5; the row of 3 fails
        threads[0].start()
        assert entered.wait(30)
        for thread in threads[1:]:
            thread.start()
        while service.intake._queue.qsize() < 4:  # noqa: SLF001
            threading.Event().wait(0.01)
        release.set()
        for thread in threads:
            thread.join(30)
        assert isinstance(results[2], RuntimeError), results[2]
        assert all(not isinstance(results[k], Exception) for k in (0, 1, 3, 4)), results
        assert _count(service.engine) == 4, "the good rows of the failed batch are stored"
    finally:
        release.set()
        service.stop()
