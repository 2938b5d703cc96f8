"""Load on loopback (benchmarks/load.py's code) on SQLite and PostgreSQL, bounded in count and time.

Bound: ``EVENTS`` webhooks per database (the 10k figures come from ``benchmarks/load.py``, see README:
10k per database takes several minutes on a shared 2-core machine, over this suite's budget), from
``CLIENTS`` concurrent clients in bursts, plus one /predict client; the inbox must drain in
``DRAIN_SECONDS``. No speed is asserted: only that nothing acknowledged is lost and every request is answered.
"""

from __future__ import annotations

import threading

import httpx
from benchmarks.load import PROJECT, run_load

from tests.factories import TEXT_CONFIG, ls_task, predict_payload, setup_payload
from tests.reliability.server import ServerProcess

EVENTS = 800
CLIENTS = 6
DRAIN_SECONDS = 240.0


def test_webhook_bursts_with_concurrent_predict_lose_nothing(database_url, tmp_path) -> None:
    result = run_load(database_url, tmp_path / "data", label=database_url.split(":")[0], events=EVENTS,
                      clients=CLIENTS, burst=300, pause=0.1, predictors=1, drain_timeout=DRAIN_SECONDS)
    print(f"\n[{result.database}] sent {result.sent} acked {result.acknowledged} stored {result.stored} "
          f"lost {result.lost} retrains {result.retrains} ack p50/p99 {result.pct(result.ack_latencies, 50):.0f}/"
          f"{result.pct(result.ack_latencies, 99):.0f} ms predict {result.predict_calls} calls p50/p99 "
          f"{result.pct(result.predict_latencies, 50):.0f}/{result.pct(result.predict_latencies, 99):.0f} ms")
    assert result.sent == EVENTS and result.acknowledged == EVENTS, "every webhook must be acknowledged"
    assert result.drained, f"the inbox did not drain in {DRAIN_SECONDS:.0f} s"
    assert result.stored == EVENTS and result.lost == 0
    assert result.retrains >= 1
    assert result.predict_calls >= 1 and result.predict_errors == 0, "a /predict failed under load"


def test_concurrent_predicts_of_the_same_new_tasks_never_fail(database_url, tmp_path) -> None:
    """Two /predict calls inserting the same new task rows at once used to hit the primary key (HTTP 500)."""
    server = ServerProcess(tmp_path / "data", database_url).start()
    failures: list[str] = []
    try:
        with server.client() as client:
            assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG)).status_code == 200

        def call(round_: int) -> None:
            tasks = [ls_task(round_ * 1000 + i, {"text": f"text {i}"}, PROJECT) for i in range(1, 201)]
            with httpx.Client(base_url=server.url, timeout=60) as client:
                response = client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, tasks))
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

        for round_ in range(1, 3):
            threads = [threading.Thread(target=call, args=(round_,)) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
    finally:
        server.stop()
    assert failures == []


def test_a_steady_stream_is_applied_in_rounds_so_retrains_are_not_starved(settings_factory) -> None:
    from benchmarks.load import make_events

    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service.container import build_service
    from labelsieve.service.events import BATCH, accept, apply_pending

    service = build_service(settings_factory(start_workers=False))
    try:
        service.loop.setup_project(project_id=PROJECT, label_config=TEXT_CONFIG)
        for event in make_events(5 * BATCH):
            accept(service.engine, WebhookPayload.model_validate(event))
        first = apply_pending(service.engine, PROJECT, max_events=2 * BATCH)
        assert (first.changed, first.more) == (2 * BATCH, True)
        rest = apply_pending(service.engine, PROJECT, max_events=10 * BATCH)
        assert (rest.changed, rest.more) == (3 * BATCH, False)
    finally:
        service.stop()
