"""Contract tests with payloads shaped like the ones Label Studio 1.23 sends."""

from __future__ import annotations

from tests.api.helpers import wait_trained
from tests.factories import (
    IMAGE_CONFIG,
    TEXT_CONFIG,
    annotation_event,
    ls_task,
    predict_payload,
    project_dict,
    setup_payload,
)

P = 3
TEXTS = {
    "Positive": ["great movie, loved it", "wonderful acting and a great story", "excellent, would watch again",
                 "loved the soundtrack, great fun", "a wonderful, excellent film"],
    "Negative": ["terrible plot, awful acting", "boring and awful, a waste", "the worst film, terrible",
                 "awful pacing, boring story", "terrible, boring, bad"],
}


def _text_tasks(start: int = 1) -> list[dict]:
    tasks, n = [], start
    for label, texts in TEXTS.items():
        for text in texts:
            tasks.append((ls_task(n, {"text": text}, P), label))
            n += 1
    return tasks


def _annotate(client, tasks, first_id: int = 100) -> None:
    for k, (task, label) in enumerate(tasks):
        event = annotation_event("ANNOTATION_CREATED", annotation_id=first_id + k, task=task, project_id=P,
                                 config=TEXT_CONFIG, from_name="sentiment", to_name="text", choice=label)
        assert client.post("/webhook", json=event).status_code == 200


def test_health_is_json(client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "UP" and body["model_class"] == "labelsieve"


def test_setup_returns_model_version_and_refuses_unsupported_configs(client) -> None:
    response = client.post("/setup", json=setup_payload(P, TEXT_CONFIG))
    assert response.status_code == 200
    assert response.json() == {"model_version": "labelsieve-v0"}
    bad = client.post("/setup", json=setup_payload(P, '<View><Image name="i" value="$i"/></View>'))
    assert bad.status_code == 400
    assert "supports classification configs" in bad.json()["detail"]


def test_setup_refuses_bad_extra_params_with_a_clear_message(client) -> None:
    response = client.post("/setup", json=setup_payload(P, TEXT_CONFIG, {"strategy": "nope"}))
    assert response.status_code == 400
    assert "unknown strategy 'nope'" in response.json()["detail"] and "margin" in response.json()["detail"]
    response = client.post("/setup", json=setup_payload(P, TEXT_CONFIG, '{"batch_size": 0}'))
    assert response.status_code == 400 and "batch_size" in response.json()["detail"]
    # a learner's input kind is known once its plugin is loaded: before that, /setup checks only the names (it must
    # answer within Label Studio's 3 s) and the full check runs before the first retrain
    assert client.app.state.service.plugins_ready.wait(120)
    response = client.post("/setup", json=setup_payload(P, TEXT_CONFIG, {"learner": "image"}))
    assert response.status_code == 400 and "<text>" in response.json()["detail"]
    # a learner's bad parameter value (nested in auto_image's linear stage) is named at /setup, not at the first fit
    response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, {
        "learner": "auto_image", "learner_params": {"linear_params": {"feature_power": 2}}}))
    assert response.status_code == 400 and "feature_power" in response.json()["detail"]
    response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, {
        "learner": "auto_image", "learner_params": {"linear_params": {"logit_tau": -1}}}))
    assert response.status_code == 400 and "logit_tau" in response.json()["detail"]
    # an image size the encoder's network cannot take: its fine-tune would crash at the first fit (EfficientNet-Lite0
    # needs 32 px); with the encoder itself given too small a size, its vectors would
    lite0 = {"encoder": "efficientnet_lite0"}
    for params, named in (({**lite0, "cnn_params": {"image_size": 16}}, "cnn_params.image_size"),
                          ({**lite0, "encoder_params": {"image_size": 24}}, "encoder_params.image_size"),
                          ({"cnn_params": {"image_size": 2}}, "cnn_params.image_size"),
                          ({"cnn_params": {"image_sise": 64}}, "image_sise")):
        response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, {
            "learner": "auto_image", "learner_params": params}))
        assert response.status_code == 400 and named in response.json()["detail"], (params, response.text)
    response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, {
        "learner": "auto_image", "learner_params": {**lite0, "cnn_params": {"image_size": 32}}}))
    assert response.status_code == 200, response.text


def test_predict_before_training_answers_one_empty_result_per_task(client) -> None:
    client.post("/setup", json=setup_payload(P, TEXT_CONFIG))
    tasks = [task for task, _ in _text_tasks()]
    body = client.post("/predict", json=predict_payload(P, TEXT_CONFIG, tasks[:1])).json()
    assert len(body["results"]) == 1 and body["results"][0]["result"] == []


def test_every_webhook_action_is_handled(client) -> None:
    client.post("/setup", json=setup_payload(P, TEXT_CONFIG))
    labelled = _text_tasks()
    _annotate(client, labelled)
    # ANNOTATION_UPDATED changes the label of an existing annotation
    task, _ = labelled[0]
    update = annotation_event("ANNOTATION_UPDATED", annotation_id=100, task=task, project_id=P, config=TEXT_CONFIG,
                              from_name="sentiment", to_name="text", choice="Negative")
    assert client.post("/webhook", json=update).json()["status"] == "queued"
    # ANNOTATIONS_CREATED (bulk): lists of annotations and tasks
    extra = _text_tasks(start=50)[:2]
    bulk = {"action": "ANNOTATIONS_CREATED", "project": project_dict(P, TEXT_CONFIG),
            "task": [t for t, _ in extra],
            "annotation": [annotation_event("ANNOTATION_CREATED", annotation_id=200 + k, task=t, project_id=P,
                                            config=TEXT_CONFIG, from_name="sentiment", to_name="text",
                                            choice=label)["annotation"] for k, (t, label) in enumerate(extra)]}
    assert client.post("/webhook", json=bulk).json()["status"] == "queued"
    # ANNOTATIONS_DELETED carries only ids
    deleted = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 201}], "project": project_dict(P, TEXT_CONFIG)}
    assert client.post("/webhook", json=deleted).json()["status"] == "queued"
    # START_TRAINING carries no annotations: retrain from what is stored (no Label Studio configured here)
    start = {"action": "START_TRAINING", "project": project_dict(P, TEXT_CONFIG)}
    assert client.post("/webhook", json=start).json()["status"] == "queued"
    # anything else is acknowledged and ignored
    other = client.post("/webhook", json={"action": "PROJECT_UPDATED", "project": project_dict(P, TEXT_CONFIG)})
    assert other.status_code == 200 and other.json()["status"] == "ignored"
    wait_trained(client)

    status = client.get(f"/projects/{P}").json()
    assert status["annotations"] == len(labelled) + 1, "bulk added 2, delete removed 1"
    assert status["labeled_tasks"] == len(labelled) + 1
    # 5+5 labelled, +2 Positive in bulk, -1 deleted Positive, one Positive updated to Negative
    assert status["class_counts"] == {"Positive": 5, "Negative": 6}
    assert status["model_version"].startswith("labelsieve-v")
    versions = client.get("/versions", params={"project": P}).json()
    assert versions["versions"] and versions["model_version"] == status["model_version"]


def test_predict_one_and_a_hundred_tasks_in_order(client) -> None:
    client.post("/setup", json=setup_payload(P, TEXT_CONFIG, {"preannotate_threshold": 0}))  # labels pre-ticked
    _annotate(client, _text_tasks())
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(P, TEXT_CONFIG)})
    wait_trained(client)
    one = client.post("/predict", json=predict_payload(P, TEXT_CONFIG, [ls_task(900, {"text": "awful, boring"}, P)]))
    assert one.status_code == 200
    result = one.json()["results"][0]
    assert result["result"][0]["from_name"] == "sentiment" and result["result"][0]["to_name"] == "text"
    assert result["result"][0]["type"] == "choices"
    assert result["result"][0]["value"]["choices"] == ["Negative"]
    assert 0.0 <= result["score"] <= 1.0

    texts = ["great wonderful excellent", "terrible awful boring"] * 50
    tasks = [ls_task(1000 + k, {"text": t}, P) for k, t in enumerate(texts)]
    body = client.post("/predict", json=predict_payload(P, TEXT_CONFIG, tasks)).json()
    assert len(body["results"]) == 100
    labels = [r["result"][0]["value"]["choices"][0] for r in body["results"]]
    assert labels == ["Positive", "Negative"] * 50, "one result per task, in request order"


def test_image_config_results_name_the_image_controls(client_factory, digits_root) -> None:
    root, paths, _ = digits_root
    with client_factory(local_files_document_root=root) as client:
        client.post("/setup", json=setup_payload(9, IMAGE_CONFIG))
        task = ls_task(1, {"image": f"/data/local-files/?d={paths[0]}"}, 9)
        body = client.post("/predict", json=predict_payload(9, IMAGE_CONFIG, [task])).json()
        assert body["results"][0]["model_version"] == "labelsieve-v0"


def test_metrics_are_prometheus_text(client) -> None:
    client.get("/health")
    client.post("/webhook", json={"action": "PROJECT_UPDATED"})
    text = client.get("/metrics").text
    assert 'labelsieve_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "labelsieve_http_request_duration_seconds_bucket" in text
    assert "labelsieve_queue_length" in text and "labelsieve_retrains_total" in text or "retrain" in text
    assert 'labelsieve_webhook_events_total{action="other"} 1.0' in text


def test_predict_for_an_unknown_project_with_a_bad_label_config_is_refused_like_setup(client) -> None:
    response = client.post("/predict", json={"tasks": [{"id": 1, "data": {}, "project": 77}], "label_config": "0"})
    assert response.status_code == 400 and "not well-formed XML" in response.json()["detail"]
