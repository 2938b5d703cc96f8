"""Two projects on one backend: while one project's round trains, the other's round queues for the training slot,
and it trains before the busy project's next round (the busy project went dirty meanwhile). Proved at the fit hook:
the first round blocks inside ``before_fit`` until the test has seen the other round queued."""

from __future__ import annotations

import threading
import time

from tests.factories import TEXT_CONFIG, annotation_event, ls_task, setup_payload

BUSY, QUIET = 31, 32
TEXTS = {"Positive": ["good great fine", "lovely superb nice"], "Negative": ["bad awful poor", "dull sad grim"]}


def label(client, project_id: int, annotation_id: int, task_id: int, choice: str) -> None:
    words = TEXTS[choice][task_id % 2]
    event = annotation_event("ANNOTATION_CREATED", annotation_id=annotation_id,
                             task=ls_task(task_id, {"text": f"{words} {task_id}"}, project_id), project_id=project_id,
                             config=TEXT_CONFIG, from_name="sentiment", to_name="text", choice=choice)
    assert client.post("/webhook", json=event).status_code == 200


def wait_until(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_quiet_projects_round_runs_before_the_busy_projects_next_round(client_factory, monkeypatch) -> None:
    from labelsieve.service import fault_hooks

    fits: list[int] = []
    release = threading.Event()

    def before_fit(project_id: int, _n_labels: int) -> None:
        fits.append(project_id)
        if fits == [BUSY]:  # the busy project's first round holds the only training slot until released
            release.wait(120)

    monkeypatch.setattr(fault_hooks, "before_fit", before_fit)
    with client_factory(debounce_seconds=0.0, max_concurrent_trainings=1) as client:
        service = client.app.state.service
        for pid, least in ((BUSY, 2), (QUIET, 1)):  # one webhook starts the quiet project's whole round
            extra = {"learner": "text", "min_annotations": least}
            assert client.post("/setup", json=setup_payload(pid, TEXT_CONFIG, extra)).status_code == 200
        try:
            label(client, BUSY, 1, 101, "Positive")
            label(client, BUSY, 2, 102, "Negative")
            wait_until(lambda: fits == [BUSY], "the busy project's round never reached fit")
            label(client, QUIET, 3, 201, "Positive")
            wait_until(lambda: service.loop.train_slots.waiting() == 1, "the quiet project's round never queued")
            label(client, BUSY, 5, 103, "Positive")  # the busy project is dirty again while its round trains
        finally:
            release.set()
        assert service.worker.wait_idle(120)
        assert fits == [BUSY, QUIET, BUSY], "the quiet project trained between the busy project's rounds"
        stats = service.loop.train_slots.stats()
        assert stats[QUIET].waited == 1 and stats[QUIET].rounds == 1
        metrics = client.get("/metrics").text
        assert f'labelsieve_training_slot_waits_total{{project="{QUIET}"}} 1.0' in metrics


class BlockingPublisher:
    """The service's publisher, with the push of ``project`` held until ``release`` (a slow Label Studio)."""

    def __init__(self, inner, project: int) -> None:
        self.inner, self.project = inner, project
        self.pushing, self.release = threading.Event(), threading.Event()

    def __call__(self, project_id: int, version: str) -> None:
        if project_id == self.project:
            self.pushing.set()
            self.release.wait(120)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_slow_push_to_label_studio_does_not_hold_the_training_slot(client_factory, monkeypatch) -> None:
    from labelsieve.service import fault_hooks

    fits: list[int] = []
    monkeypatch.setattr(fault_hooks, "before_fit", lambda project_id, _n: fits.append(project_id))
    with client_factory(debounce_seconds=0.0, max_concurrent_trainings=1) as client:
        service = client.app.state.service
        blocking = BlockingPublisher(service.loop.publisher, BUSY)
        service.loop.publisher = blocking
        for pid in (BUSY, QUIET):
            extra = {"learner": "text", "min_annotations": 2}
            assert client.post("/setup", json=setup_payload(pid, TEXT_CONFIG, extra)).status_code == 200
        try:
            label(client, BUSY, 1, 101, "Positive")
            label(client, BUSY, 2, 102, "Negative")
            assert blocking.pushing.wait(120), "the busy project's round never reached its push"
            label(client, QUIET, 3, 201, "Positive")
            label(client, QUIET, 4, 202, "Negative")
            wait_until(lambda: service.loop.project(QUIET).model_version, "the quiet project never trained while "
                       "the busy project's push to Label Studio was held")
            assert fits[0] == BUSY and QUIET in fits
        finally:
            blocking.release.set()
        assert service.worker.wait_idle(120)


def test_two_slots_fit_two_projects_at_once_and_a_busy_project_queues_once(client_factory, monkeypatch) -> None:
    """``max_concurrent_trainings=2``: two projects are inside their fit at the same time, a third project's round
    queues, and a project labelled three times during its round asks for the slot once (one more round)."""
    from labelsieve.service import fault_hooks

    third = 33
    fits: list[int] = []
    inside: set[int] = set()
    lock, release = threading.Lock(), threading.Event()

    def before_fit(project_id: int, _n_labels: int) -> None:
        with lock:
            fits.append(project_id)
            first_round = fits.count(project_id) == 1
            inside.add(project_id)
        if first_round and project_id in (BUSY, QUIET):
            release.wait(120)
        with lock:
            inside.discard(project_id)

    monkeypatch.setattr(fault_hooks, "before_fit", before_fit)
    with client_factory(debounce_seconds=0.0, max_concurrent_trainings=2) as client:
        service = client.app.state.service
        for pid in (BUSY, QUIET, third):
            extra = {"learner": "text", "min_annotations": 2}
            assert client.post("/setup", json=setup_payload(pid, TEXT_CONFIG, extra)).status_code == 200
        try:
            for pid, base in ((BUSY, 100), (QUIET, 200)):
                label(client, pid, base + 1, base + 1, "Positive")
                label(client, pid, base + 2, base + 2, "Negative")
            wait_until(lambda: inside == {BUSY, QUIET}, "two projects were never inside fit at once")
            label(client, third, 301, 301, "Positive")
            label(client, third, 302, 302, "Negative")
            wait_until(lambda: service.loop.train_slots.waiting() == 1, "the third project's round never queued")
            for n in range(3):  # the busy project goes dirty three times during its held round
                label(client, BUSY, 110 + n, 110 + n, "Positive")
            assert service.loop.train_slots.waiting() == 1
        finally:
            release.set()
        assert service.worker.wait_idle(120)
        # the third project's round and the busy project's second one share the two slots: their order is free
        assert sorted(fits[:2]) == sorted([BUSY, QUIET]) and sorted(fits[2:]) == sorted([third, BUSY])
        assert fits.count(BUSY) == 2, "the busy project's three labels made one more round"
        stats = service.loop.train_slots.stats()
        assert stats[third].waited == 1
