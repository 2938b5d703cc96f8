"""A text pool beyond ``embedding_budget``: ranked with TF-IDF at once, encoded in the background, then embeddings.

The background job's encoder is held until the test releases it (its own event, never a sleep), so the test can
look at the service while the job runs; ``TextFeatures.wait`` then joins the job, whose end asks the worker for
a forced retrain, and ``wait_trained`` waits for that retrain.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labelsieve.learners.text_models import installed_embedding_model
from labelsieve.service.embedding_job import local_encoder
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from tests.api.helpers import wait_trained
from tests.factories import TEXT_CONFIG, annotation_event, ls_task, project_dict, setup_payload

MODEL = installed_embedding_model()
P = 21
GOOD = ["a lovely warm film", "great acting and a moving story", "wonderful, I laughed a lot", "a joy to watch",
        "brilliant and touching", "superb cast, fine script", "charming and smart", "the best film this year"]
BAD = ["a dull boring mess", "terrible acting, awful plot", "I hated every minute", "a waste of time",
       "tedious and flat", "poor script and worse cast", "clumsy and stupid", "the worst film this year"]
TEXTS = [t for pair in zip(GOOD, BAD, strict=True) for t in pair] + [f"an ordinary review number {i}" for i in range(8)]
QUIET = {"embedding_budget": 5, "min_annotations": 2, "label_issues": False, "cv_estimate": False,
         "stop_set_size": 0, "preannotate_threshold": 0}


def _post_pool(client: TestClient) -> None:
    tasks = [{"id": 100 + i, "data": {"text": t}} for i, t in enumerate(TEXTS)]
    response = client.post("/webhook", json={"action": "TASKS_CREATED", "tasks": tasks,
                                             "project": project_dict(P, TEXT_CONFIG)})
    assert response.status_code == 200, response.text


def _annotate(client: TestClient, indices: list[int], first_id: int = 9000) -> None:
    for n, i in enumerate(indices):
        choice = "Positive" if TEXTS[i] in GOOD else "Negative"
        event = annotation_event("ANNOTATION_CREATED", annotation_id=first_id + n,
                                 task=ls_task(100 + i, {"text": TEXTS[i]}, P), project_id=P, config=TEXT_CONFIG,
                                 from_name="sentiment", to_name="text", choice=choice)
        assert client.post("/webhook", json=event).status_code == 200


def _versions(client: TestClient) -> list[Any]:
    with session_scope(client.app.state.service.engine) as session:
        return [v for v in crud.list_model_versions(session=session, project_id=P) if v.status == "ready"]


def _features(client: TestClient) -> dict[str, Any]:
    response = client.get(f"/projects/{P}")
    assert response.status_code == 200, response.text
    return response.json()["text_features"]


@pytest.mark.skipif(MODEL is None, reason="the packaged MiniLM model is a dev extra")
def test_a_big_text_pool_ranks_with_tfidf_first_then_switches_to_embeddings(client_factory) -> None:
    release = threading.Event()

    def held_encoder(model: str):
        assert release.wait(300), "the test never released the encoder"
        return local_encoder(model)

    with client_factory() as client:
        service = client.app.state.service
        service.text_features.encoder_factory = held_encoder
        assert client.post("/setup", json=setup_payload(P, TEXT_CONFIG, QUIET)).status_code == 200
        _post_pool(client)
        _annotate(client, [0, 1, 2, 3])
        wait_trained(client)
        first = _versions(client)
        assert first and all(v.learner_params["embedding_model"] is None for v in first)  # TF-IDF: live at once
        features = _features(client)
        assert features["features"] == "tfidf" and features["job"] == "running" and features["model"] == MODEL
        assert features["total"] == len(TEXTS) and features["error"] is None
        health = client.get("/health").json()
        assert [(j["project"], j["state"], j["total"]) for j in health["embedding_jobs"]] == [
            (P, "running", len(TEXTS))]
        page = client.get(f"/projects/{P}/page").text
        assert "Text features" in page and "TF-IDF" in page and "background encoding running" in page

        release.set()
        assert service.text_features.wait(300)
        wait_trained(client)  # the retrain the finished job forced
        versions = _versions(client)
        assert len(versions) == len(first) + 1 and versions[-1].learner_params["embedding_model"] == MODEL
        assert versions[-1].n_train == 4  # no new label: the job's retrain
        features = _features(client)
        assert (features["features"], features["encoded"], features["total"]) == ("embeddings", 24, 24)
        assert features["texts_per_second"] > 0 and client.get("/health").json()["embedding_jobs"] == []
        response = client.post("/predict", json={"tasks": [ls_task(100 + i, {"text": TEXTS[i]}, P) for i in (8, 9)],
                                                 "project": f"{P}.1", "label_config": TEXT_CONFIG})
        labels = [r["result"][0]["value"]["choices"][0] for r in response.json()["results"]]
        assert labels == ["Positive", "Negative"]  # embeddings tell these apart from 4 labels

    with client_factory() as client:  # a restart: the vectors come back from disk, nothing is encoded again
        service = client.app.state.service
        service.text_features.encoder_factory = held_encoder  # released: would encode if asked
        _annotate(client, [4, 5], first_id=9100)
        wait_trained(client)
        versions = _versions(client)
        assert versions[-1].n_train == 6 and versions[-1].learner_params["embedding_model"] == MODEL
        assert service.text_features.jobs() == []  # every text was in the store: no background job
        assert _features(client)["features"] == "embeddings"


def test_a_failing_encoder_leaves_the_project_on_tfidf_with_the_error_shown(client_factory, tmp_path) -> None:
    missing = str(tmp_path / "not-a-model")  # a folder that exists (/setup accepts it) but holds no model
    (tmp_path / "not-a-model").mkdir()
    extra = {**QUIET, "learner": "text", "learner_params": {"embedding_model": missing}}
    with client_factory() as client:
        service = client.app.state.service
        assert client.post("/setup", json=setup_payload(P, TEXT_CONFIG, extra)).status_code == 200
        _post_pool(client)
        _annotate(client, [0, 1, 2, 3])
        wait_trained(client)
        assert service.text_features.wait(600)
        wait_trained(client)
        features = _features(client)
        assert features["features"] == "tfidf" and features["job"] == "failed"
        assert features["error"] and features["job"] == "failed"
        assert "Encoding failed, the project stays on TF-IDF" in client.get(f"/projects/{P}/page").text
        _annotate(client, [4, 5], first_id=9100)  # later rounds stay on TF-IDF and keep training
        wait_trained(client)
        versions = _versions(client)
        assert all(v.learner_params["embedding_model"] is None for v in versions)  # (webhooks may split rounds)
        assert versions[-1].n_train == 6


@pytest.mark.parametrize(("value", "message"), [(-1, "embedding_budget must be >= 0"),
                                                ("many", "embedding_budget must be an integer")])
def test_setup_refuses_a_bad_embedding_budget(client, value: Any, message: str) -> None:
    response = client.post("/setup", json=setup_payload(P, TEXT_CONFIG, {"embedding_budget": value}))
    assert response.status_code == 400 and message in response.json()["detail"]


def test_a_missing_model_folder_or_an_offline_hub_name_is_refused_at_setup(client_factory, tmp_path) -> None:
    with client_factory() as client:
        for model, named in ((str(tmp_path / "no-such-model"), "does not exist"),
                             ("no-such-org/no-such-embedder", "huggingface-cli download no-such-org/no-such-embedder")):
            extra = {**QUIET, "learner": "text", "learner_params": {"embedding_model": model}}
            answer = client.post("/setup", json=setup_payload(P, TEXT_CONFIG, extra))
            assert answer.status_code == 400 and model in answer.text and named in answer.text
