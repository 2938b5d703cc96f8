"""Faults: SIGKILL during a webhook burst and during a retrain; Label Studio down and back.

The product's promise: an acknowledged webhook is in the database (inbox) before the 200 goes out, so
a crash loses none; after a restart the queued events are applied, the last good model serves at once,
and an interrupted retrain starts again by itself (no new input needed).
"""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from tests.factories import IMAGE_CONFIG, TEXT_CONFIG, predict_payload, setup_payload
from tests.reliability.loopback import CountingServer
from tests.reliability.server import ServerProcess, db_counts

PROJECT = 42
BURST_EVENTS = 1200
KILL_AFTER_ACKS = 300


def test_sigkill_during_a_webhook_burst_loses_no_acknowledged_annotation(database_url, tmp_path) -> None:
    from benchmarks.load import make_events

    server = ServerProcess(tmp_path / "data", database_url, LABELSIEVE_DEBOUNCE_SECONDS="0.5").start()
    try:
        with server.client() as client:
            assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG)).status_code == 200
        events = make_events(BURST_EVENTS)
        acked: set[int] = set()
        lock = threading.Lock()
        # at most 2 * KILL_AFTER_ACKS requests go out before the kill: it lands inside the burst however busy
        # the machine is (no race between the senders and the killer)
        permits = threading.Semaphore(2 * KILL_AFTER_ACKS)
        killed = threading.Event()

        def send(share: list[dict]) -> None:
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                for event in share:
                    while not permits.acquire(timeout=0.1):
                        if killed.is_set():
                            break
                    try:
                        response = client.post("/webhook", json=event)
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code == 200 and response.json()["status"] == "queued":
                        with lock:
                            acked.add(int(event["annotation"]["id"]))

        senders = [threading.Thread(target=send, args=(events[k::4],)) for k in range(4)]
        for thread in senders:
            thread.start()
        deadline = time.monotonic() + 300
        while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        killed.set()
        for thread in senders:
            thread.join(30)
        assert KILL_AFTER_ACKS <= len(acked) < BURST_EVENTS, "the kill did not land inside the burst"
        before_restart = db_counts(database_url, PROJECT)
        assert before_restart["events"] >= len(acked)  # every acknowledged event is in the inbox

        server.start()
        assert server.wait_drained(PROJECT, 300), "the inbox was not applied after the restart"
        after = db_counts(database_url, PROJECT)
        assert acked <= after["annotation_ids"], f"lost {len(acked - after['annotation_ids'])} acknowledged"
        assert after["pending"] == 0 and after["ready_versions"] >= 1
        print(f"\n[{database_url.split(':')[0]}] burst kill: sent<= {BURST_EVENTS}, acknowledged {len(acked)}, "
              f"inbox at kill {before_restart['events']}, stored after restart {after['annotations']}, "
              f"lost {len(acked - after['annotation_ids'])}, retrains {after['ready_versions']}")
    finally:
        server.stop()


def _image_events(paths: list[str], labels, ids, first_annotation: int) -> list[dict]:
    from tests.api.helpers import digit_task
    from tests.factories import annotation_event

    return [annotation_event("ANNOTATION_CREATED", annotation_id=first_annotation + n,
                             task=digit_task(1000 + int(i), paths[int(i)], PROJECT), project_id=PROJECT,
                             config=IMAGE_CONFIG, from_name="label", to_name="image", choice=str(labels[int(i)]))
            for n, i in enumerate(ids)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # recovery is storage-agnostic; budget
def test_sigkill_during_a_retrain_serves_the_last_good_model_and_retrains_again(database_url, tmp_path,
                                                                                 digits_root) -> None:
    """The kill lands inside ``fit`` by construction: LABELSIEVE_TEST_BLOCK_FIT makes the retrain write a file
    and block right before ``fit``; the test waits for that file and kills there (no sleep to race)."""
    root, paths, labels = digits_root
    order = np.random.default_rng(1).permutation(len(paths))
    reached = tmp_path / "fit-reached"
    release = tmp_path / "fit-reached.release"
    release.touch()  # the first model trains freely
    server = ServerProcess(tmp_path / "data", database_url, LABELSIEVE_DEBOUNCE_SECONDS="0.3",
                           LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(root),
                           LABELSIEVE_TEST_BLOCK_FIT=str(reached)).start()
    extra = {"learner": "image", "learner_params": {"epochs": 8}}
    probe = predict_payload(PROJECT, IMAGE_CONFIG, [
        {"id": 5000 + int(i), "data": {"image": f"/data/local-files/?d={paths[int(i)]}"}} for i in order[1500:1520]])
    try:
        with server.client(timeout=120) as client:
            assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
            for event in _image_events(paths, labels, order[:40], 1):  # a loaded machine may retrain twice
                assert client.post("/webhook", json=event).status_code == 200
            assert server.wait_drained(PROJECT, 300)
            first = client.post("/predict", json=probe).json()
            v1 = first["model_version"]
            ready = db_counts(database_url, PROJECT)["ready_versions"]
            assert ready >= 1
            release.unlink()  # from now on a retrain blocks right before fit
            for event in _image_events(paths, labels, order[40:440], 100):
                assert client.post("/webhook", json=event).status_code == 200
        deadline = time.monotonic() + 300
        while not reached.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reached.exists(), "no retrain reached fit"
        server.kill()  # inside the retrain, before a new model exists
        at_kill = db_counts(database_url, PROJECT)
        assert at_kill["events"] == 440 and at_kill["ready_versions"] == ready

        server.env.pop("LABELSIEVE_TEST_BLOCK_FIT")
        server.start()
        with server.client(timeout=120) as client:
            served = client.post("/predict", json=probe).json()
            assert served["model_version"] == v1, "after the crash the last good model must serve"
            assert served["results"] == first["results"], "the last good model's predictions changed"
            assert server.wait_drained(PROJECT, 300), "the interrupted retrain did not run again after restart"
            after = client.post("/predict", json=probe).json()
        final = db_counts(database_url, PROJECT)
        assert final["annotations"] == 440 and final["pending"] == 0
        assert final["ready_versions"] >= ready + 1 and after["model_version"] != v1
        assert not list((tmp_path / "data" / "models").glob("project-*/.tmp-*")), "half-written model left"
        print(f"\n[{database_url.split(':')[0]}] retrain kill: blocked in fit with {reached.read_text().split()[1]} "
              f"labels, served {v1} after restart, retrained to {after['model_version']} on {final['annotations']} "
              "annotations without new input")
    finally:
        server.stop()


def _export(ids: range, annotation_offset: int = 0) -> list[dict]:
    return [{"id": i, "data": {"text": ("good great fine" if i % 2 else "bad awful poor") + f" {i}"},
             "annotations": [{"id": 10_000 + i + annotation_offset, "result": [
                 {"from_name": "sentiment", "to_name": "text", "type": "choices",
                  "value": {"choices": ["Positive" if i % 2 else "Negative"]}}]}]} for i in ids]


def test_label_studio_down_predict_answers_and_pulls_wait_until_it_is_back(client_factory) -> None:
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    def stored(client) -> set[int]:
        with session_scope(client.app.state.service.engine) as session:
            return {a.id for a in crud.list_annotations(session=session, project_id=PROJECT)}

    start_training = {"action": "START_TRAINING", "project": {"id": PROJECT, "label_config": TEXT_CONFIG}}
    ls = CountingServer().start()
    ls.routes[f"/api/projects/{PROJECT}/export"] = (200, _export(range(1, 41)))
    try:
        with client_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                            debounce_seconds=0.1) as client:
            assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG)).status_code == 200
            assert client.post("/webhook", json=start_training).json()["status"] == "queued"
            assert client.app.state.service.worker.wait_idle(60)
            assert stored(client) == {10_000 + i for i in range(1, 41)}
            tasks = [{"id": i, "data": {"text": "good great" if i % 2 else "bad awful"}} for i in range(100, 110)]
            before = client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, tasks)).json()
            assert before["model_version"].startswith("labelsieve-v1-")

            port = ls.port
            ls.stop()  # Label Studio goes down
            ls.routes[f"/api/projects/{PROJECT}/export"] = (200, _export(range(11, 61)))
            assert client.post("/webhook", json=start_training).json()["status"] == "queued"
            deleted = {"action": "ANNOTATIONS_DELETED", "project": {"id": PROJECT}, "annotations": [{"id": 10_011}]}
            assert client.post("/webhook", json=deleted).json()["status"] == "queued"
            deadline = time.monotonic() + 120  # the worker met the dead Label Studio: it says so, not a sleep
            while client.get(f"/projects/{PROJECT}").json()["waiting"]["state"] == "ok" and time.monotonic() < deadline:
                time.sleep(0.05)
            waiting = client.get(f"/projects/{PROJECT}").json()["waiting"]
            assert waiting["state"] == "waiting_for_label_studio" and waiting["events"] == 2
            assert waiting["label_studio_url"] == ls.url and "LABEL_STUDIO_URL" in waiting["fix"]
            health = client.get("/health").json()
            assert health["status"] == "DEGRADED" and health["waiting_events"] == 2 and ls.url in health["reason"]
            during = client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, tasks))
            assert during.status_code == 200 and during.json() == before, "/predict must answer from the store"
            assert client.get("/health").json()["queue_length"] == 2  # kept, in order, for later
            assert stored(client) == {10_000 + i for i in range(1, 41)}

            ls.start(port)  # back on the same address: the worker retries every few seconds
            deadline = time.monotonic() + 120
            while client.get("/health").json()["queue_length"] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert client.app.state.service.worker.wait_idle(60)
            assert stored(client) == {10_000 + i for i in range(12, 61)}
            assert client.get("/health").json()["status"] == "UP"
            assert client.get(f"/projects/{PROJECT}").json()["waiting"]["state"] == "ok"
            versions = client.get(f"/versions?project={PROJECT}").json()
            assert len(versions["versions"]) == 2 and versions["model_version"].startswith("labelsieve-v2-")
    finally:
        ls.stop()
