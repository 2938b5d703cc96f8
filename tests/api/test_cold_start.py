"""A project connected with no labels gets a label-free first head when its strategy needs no model (cold start);
with a strategy that needs a model it waits for labels and says why. Label Studio is a loopback server answering the
reads of the first contact; the pushes are recorded at the publisher."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.e2e.helpers import _WORDS, TEXT_CONFIG
from tests.reliability.loopback import CountingServer


def topic_texts(n: int, seed: int) -> list[tuple[str, str]]:
    """Texts of four words of one topic each: topics share no word, so any label-free clustering finds them."""
    rng = np.random.default_rng(seed)
    topics = sorted(_WORDS)
    return [(" ".join(rng.choice(_WORDS[topics[i % 3]], size=4, replace=False)), topics[i % 3]) for i in range(n)]


def fake_label_studio(pid: int, items: list[tuple[str, str]]) -> CountingServer:
    ls = CountingServer().start()
    tasks = [{"id": i + 1, "data": {"text": text}} for i, (text, _) in enumerate(items)]
    ls.routes[f"/api/projects/{pid}/"] = (200, {"id": pid, "task_number": len(tasks)})
    ls.routes[f"/api/projects/{pid}/export"] = (200, [])  # nothing annotated yet
    ls.routes["/api/tasks/"] = (200, {"tasks": tasks, "total": len(tasks)})
    return ls


class RecordingPublisher:
    """The service's publisher, with every ``publish(project, version)`` recorded instead of sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.published: list[tuple[int, str]] = []

    def __call__(self, project_id: int, version: str) -> None:
        self.published.append((project_id, version))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def connect(settings_factory, pid: int, strategy: str, items: list[tuple[str, str]]):
    from labelsieve.service.container import build_service

    ls = fake_label_studio(pid, items)
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123"))
    service.start()
    recorder = RecordingPublisher(service.loop.publisher)
    service.loop.publisher = recorder
    service.loop.setup_project(project_id=pid, label_config=TEXT_CONFIG,
                               extra_params={"strategy": strategy, "batch_size": 3, "min_annotations": 2})
    assert service.first_contact is not None and service.first_contact.start(pid)
    assert service.first_contact.wait(pid, timeout=60)
    assert service.worker.wait_idle(120)
    return ls, service, recorder


def test_a_project_without_labels_gets_a_cold_start_head_covering_its_topics(settings_factory) -> None:
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope
    from labelsieve.storage.rankings import ranking_of

    items = topic_texts(60, seed=3)
    topic_of = {i + 1: label for i, (_, label) in enumerate(items)}
    ls, service, recorder = connect(settings_factory, 21, "adaptive", items)  # TypiClust while there is no model
    try:
        status = service.cold_start.status(21)
        assert status is not None and status["state"] == "ranked", status
        assert status["n_pool"] == 60 and status["features"] == "tfidf-svd"
        version = status["version"]
        assert recorder.published == [(21, version)], "the cold head was pushed, once"
        assert not service.loop.project(21).model_version, "no model serves: /predict is untouched"
        with session_scope(service.engine) as session:
            row = crud.get_model_version(session=session, project_id=21, version=version)
            ranking = ranking_of(session=session, project_id=21, version=version)
        assert row is not None and row.status == "cold"
        assert ranking is not None and len(ranking) == 60
        head = [topic_of[int(t)] for t in ranking.task_ids[:3]]
        assert sorted(head) == ["food", "sports", "weather"], f"the first batch covers every topic: {head}"

        service.worker.notify(21, force=True)  # nothing changed: no second cold version
        assert service.worker.wait_idle(60)
        assert len(recorder.published) == 1
    finally:
        service.stop()
        ls.stop()


def test_a_strategy_that_needs_a_model_waits_for_labels_and_says_why(settings_factory) -> None:
    ls, service, recorder = connect(settings_factory, 22, "margin", topic_texts(12, seed=4))
    try:
        status = service.cold_start.status(22)
        assert status is not None and status["state"] == "unsupported" and "needs a model" in status["reason"]
        assert recorder.published == []
    finally:
        service.stop()
        ls.stop()


def test_a_later_cold_round_projects_only_the_new_texts_through_the_text_feature_store(settings_factory) -> None:
    """Cold start keeps its TF-IDF-SVD vectors in the service's text-feature store: after the first round, new
    tasks cost one projection each, a label or a deleted task none, and a pool that outgrew the basis refits it."""
    from labelsieve.labelconfig import parse_label_config
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope
    from labelsieve.storage.rankings import ranking_of

    items = topic_texts(60, seed=5)
    ls, service, recorder = connect(settings_factory, 23, "adaptive", items)
    try:
        features = service.cold_start.text_vectors
        assert service.cold_start.text_vectors.cache is service.loop.text_features.cache, "the service's store"
        assert (features.fits, features.projected) == (1, 0), "the first round fits the basis on the pool"
        more = topic_texts(65, seed=6)[60:]  # 5 new tasks (ids 61-65) with texts the store has not seen
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=23,
                              tasks=[{"id": 61 + i, "data": {"text": text}} for i, (text, _) in enumerate(more)])
        outcome = service.cold_start.rank(23)
        assert outcome is not None and outcome.state == "ranked" and outcome.n_pool == 65
        assert (features.fits, features.projected) == (1, len({t for t, _ in more} - {t for t, _ in items}))
        with session_scope(service.engine) as session:
            ranking = ranking_of(session=session, project_id=23, version=outcome.version)
        assert ranking is not None and {61, 65} <= {int(t) for t in ranking.task_ids}, "new tasks are ranked"

        projected = features.projected
        config = parse_label_config(TEXT_CONFIG)
        with session_scope(service.engine) as session:  # a label: the task leaves the pool, its text is stored
            crud.upsert_annotation(session=session, project_id=23, config=config, annotation={
                "id": 1, "task": 1, "result": [{"from_name": "topic", "to_name": "text", "type": "choices",
                                                "value": {"choices": [items[0][1]]}}]})
            crud.delete_tasks(session=session, project_id=23, task_ids=[2])
        outcome = service.cold_start.rank(23)
        assert outcome is not None and outcome.state == "ranked" and (outcome.n_pool, outcome.n_labeled) == (63, 1)
        assert (features.fits, features.projected) == (1, projected), "nothing new to project"

        grown = topic_texts(200, seed=7)  # 200 more texts: more than twice what the basis was fitted on
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=23,
                              tasks=[{"id": 100 + i, "data": {"text": text}} for i, (text, _) in enumerate(grown)])
        outcome = service.cold_start.rank(23)
        assert outcome is not None and outcome.state == "ranked"
        assert features.fits == 2, "a pool that outgrew the basis gets a new one"
    finally:
        service.stop()
        ls.stop()
