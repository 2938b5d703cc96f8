"""A webhook burst is applied as it comes and trained on once; a stream that never goes quiet still retrains.

Proved at the worker's steps (its ``apply_pending`` calls and the loop's ``retrain`` calls), not by timing: the
burst takes many apply steps (``round_events`` per step) and one retrain; the stream never leaves the debounce's
quiet (an hour), so only the lag bound (``retrain_max_lag_seconds``) can make it retrain while events still come.
"""

from __future__ import annotations

import threading
import time

from benchmarks.load import PROJECT, make_events

from tests.factories import TEXT_CONFIG

EXTRA = {"learner": "text", "min_annotations": 2, "cv_estimate": False}


def _service(settings_factory, monkeypatch, **overrides):  # type: ignore[no-untyped-def]
    from labelsieve.service import worker as worker_module
    from labelsieve.service.container import build_service

    service = build_service(settings_factory(start_workers=False, sqlite_synchronous="NORMAL", **overrides))
    service.loop.setup_project(project_id=PROJECT, label_config=TEXT_CONFIG, extra_params=EXTRA)
    steps: list[int] = []  # events changed by each apply step
    retrains: list[int] = []  # annotations stored when each retrain began
    apply_pending, retrain = worker_module.apply_pending, service.loop.retrain

    def counted_apply(*args, **kwargs):  # type: ignore[no-untyped-def]
        applied = apply_pending(*args, **kwargs)
        steps.append(applied.changed)
        return applied

    def counted_retrain(project_id: int, *, force: bool = False):  # type: ignore[no-untyped-def]
        retrains.append(stored(service))
        return retrain(project_id, force=force)

    monkeypatch.setattr(worker_module, "apply_pending", counted_apply)
    service.loop.retrain = counted_retrain
    return service, steps, retrains


def stored(service) -> int:  # type: ignore[no-untyped-def]
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    with session_scope(service.engine) as session:
        return crud.count_annotations(session=session, project_id=PROJECT)


def test_a_burst_applied_in_many_steps_is_trained_on_once(settings_factory, monkeypatch) -> None:
    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service import events as events_module
    from labelsieve.service.events import accept

    events = 300
    service, steps, retrains = _service(settings_factory, monkeypatch, debounce_seconds=0.0,
                                        retrain_max_lag_seconds=3600.0)
    try:
        monkeypatch.setattr(events_module, "BATCH", 50)  # the burst takes 6 apply steps at least
        service.worker.round_events = 50
        for event in make_events(events):
            accept(service.engine, WebhookPayload.model_validate(event))
        service.worker.notify(PROJECT)
        assert service.worker.wait_idle(180), "the burst was not drained"
        assert sum(steps) == events and len([s for s in steps if s]) >= events // 50
        assert retrains == [events], f"one retrain after the whole burst, not one per apply step: {retrains}"
        assert service.loop.project(PROJECT).annotations_since_train == 0
    finally:
        service.stop()


def test_a_stream_that_never_goes_quiet_still_retrains(settings_factory, monkeypatch) -> None:
    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service.events import accept

    service, steps, retrains = _service(settings_factory, monkeypatch, debounce_seconds=3600.0,
                                        retrain_max_lag_seconds=0.3)
    sent: list[int] = []  # events sent, counted when each retrain began
    after_retrain = 20  # events the stream still sends after the first retrain began

    def stream() -> None:  # one event after another, each notified: the debounce's quiet never comes
        deadline = time.monotonic() + 120
        for event in make_events(5000):
            if time.monotonic() > deadline or (retrains and len(sent) >= retrains_at[0] + after_retrain):
                return
            accept(service.engine, WebhookPayload.model_validate(event))
            service.worker.notify(PROJECT)
            sent.append(1)

    retrains_at: list[int] = []
    retrain = service.loop.retrain

    def noted(project_id: int, *, force: bool = False):  # type: ignore[no-untyped-def]
        retrains_at.append(len(sent))
        return retrain(project_id, force=force)

    service.loop.retrain = noted
    feeder = threading.Thread(target=stream)
    feeder.start()
    try:
        feeder.join(180)
        assert retrains, f"no retrain while the stream went on ({len(sent)} events sent)"
        assert 0 < retrains[0] < len(sent), "the retrain took what was applied by then"
        assert len(sent) >= retrains_at[0] + after_retrain, "the stream was still going when the retrain ran"
    finally:
        service.stop()


def test_nothing_is_applied_while_a_burst_still_arrives(settings_factory, monkeypatch) -> None:
    """Events that keep coming (each notified, never a quiet ``debounce_seconds``, never ``retrain_max_lag_seconds``
    old) are not applied: applying would compete with their acknowledgements. Once the stream stops and the quiet
    comes, the whole inbox is applied in steps and trained on once."""
    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service import events as events_module
    from labelsieve.service.events import accept

    events = 200
    service, steps, retrains = _service(settings_factory, monkeypatch, debounce_seconds=3600.0,
                                        retrain_max_lag_seconds=3600.0)
    try:
        monkeypatch.setattr(events_module, "BATCH", 50)
        service.worker.round_events = 50
        for event in make_events(events):
            accept(service.engine, WebhookPayload.model_validate(event))
            service.worker.notify(PROJECT)
        assert not service.worker.wait_idle(0.5), "the worker counts the waiting burst as work to do"
        assert steps == [] and retrains == [], f"applied while the burst arrived: steps {steps}, retrains {retrains}"
        assert stored(service) == 0
        service.worker.debounce_seconds = 0.0  # the quiet after the burst
        service.worker.notify(PROJECT)
        assert service.worker.wait_idle(180), "the burst was not drained after the quiet"
        assert sum(steps) == events and len([s for s in steps if s]) >= events // 50
        assert retrains == [events], f"one retrain after the whole burst: {retrains}"
    finally:
        service.stop()
