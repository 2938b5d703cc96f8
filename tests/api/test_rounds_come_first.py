"""Rounds come first: the background work started after a version (the data-quality pass: label issues, review,
5-fold estimate, drift) waits while any project's training round is queued or training, runs once for a burst of
versions (the newest), and a project's passes are rate-limited; the status still shows the older estimate, with the
version it belongs to. Proved at the fit hook and the quality thread's ``before_job`` hook, not by timing."""

from __future__ import annotations

import threading

from tests.api.test_projects_share_slots import label, wait_until
from tests.factories import IMAGE_CONFIG, TEXT_CONFIG, setup_payload
from tests.quality.test_cv_estimate import _annotate, _long_tail

BUSY, QUEUED = 41, 42


def test_a_queued_round_trains_before_background_work_and_a_burst_of_versions_is_one_pass(
        client_factory, monkeypatch) -> None:
    from labelsieve.service import fault_hooks

    events: list[tuple] = []
    hold = threading.Event()
    release = threading.Event()

    submitted = threading.Event()

    def before_fit(project_id: int, _n_labels: int) -> None:
        events.append(("fit", project_id))
        if hold.is_set() and project_id == BUSY:
            hold.clear()
            release.wait(120)  # the busy project's round holds the only slot until the test releases it
        if project_id == QUEUED:  # the queued round trains until the busy project's new version was submitted
            submitted.wait(120)

    monkeypatch.setattr(fault_hooks, "before_fit", before_fit)
    with client_factory(debounce_seconds=0.0, max_concurrent_trainings=1) as client:
        service = client.app.state.service
        service.quality.before_job = lambda project_id, version: events.append(("job", project_id, version))
        after_retrain = service.worker.after_retrain

        def submit(project_id: int, version: str) -> None:
            after_retrain(project_id, version)
            submitted.set()

        service.worker.after_retrain = submit
        for pid, least in ((BUSY, 2), (QUEUED, 1)):  # one webhook starts the queued project's whole round
            extra = {"learner": "text", "min_annotations": least}
            assert client.post("/setup", json=setup_payload(pid, TEXT_CONFIG, extra)).status_code == 200
        label(client, BUSY, 1, 101, "Positive")
        label(client, BUSY, 2, 102, "Negative")
        assert service.worker.wait_idle(120) and service.quality.wait_idle(120)
        assert [e[0] for e in events] == ["fit", "job"]  # a first version and its background pass
        events.clear()
        submitted.clear()
        try:
            hold.set()
            label(client, BUSY, 3, 103, "Positive")  # the busy project's next round blocks inside its fit
            wait_until(lambda: events == [("fit", BUSY)], "the busy project's round never reached fit")
            label(client, QUEUED, 4, 201, "Positive")
            wait_until(lambda: service.loop.train_slots.waiting() == 1, "the other project's round never queued")
            for n in range(1, 6):  # a burst of versions of the busy project while the rounds run
                service.quality.submit(BUSY, f"burst-{n}")
            assert service.quality.yielding.wait(60), "the background pass did not wait for the rounds"
            assert events == [("fit", BUSY)], "background work started while a round was training or queued"
        finally:
            release.set()
        assert service.worker.wait_idle(120) and service.quality.wait_idle(120)
        serving = client.get(f"/projects/{BUSY}").json()["model_version"]
        # the queued round (one label of one class: it fits, fails and keeps no version) trained before any pass, and
        # the five burst versions and the busy project's new version made one pass, for the newest version
        assert events == [("fit", BUSY), ("fit", QUEUED), ("job", BUSY, serving)]


def test_passes_are_rate_limited_per_project_and_the_status_names_the_stale_estimates_version(
        client_factory) -> None:
    X, y = _long_tail()
    n = len(y) - 1
    project = 43
    with client_factory(background_interval_seconds=3600.0) as client:
        service = client.app.state.service
        jobs: list[str] = []
        service.quality.before_job = lambda project_id, version: jobs.append(version)
        extra = {"learner": "vector", "label_issues": False, "seed": 4}
        assert client.post("/setup", json=setup_payload(project, IMAGE_CONFIG, extra)).status_code == 200
        _annotate(client, project, X, y, range(n))
        assert service.worker.wait_idle(600) and service.quality.wait_idle(600)
        first = client.get(f"/projects/{project}").json()["model_version"]
        assert jobs == [first]  # a project's first pass runs at once
        _annotate(client, project, X, y, range(n, n + 1))  # one more label: a new version within the interval
        assert service.worker.wait_idle(600)
        status = client.get(f"/projects/{project}").json()
        assert status["model_version"] != first
        assert not service.quality.wait_idle(0.5) and service.quality.pending() == {project: status["model_version"]}
        assert jobs == [first], "a second pass ran within the project's interval"
        estimate = status["cv_estimate"]  # the older estimate is still shown, with the version it belongs to
        assert estimate["version"] == first and not estimate["serving"] and estimate["labels_since"] == 1
