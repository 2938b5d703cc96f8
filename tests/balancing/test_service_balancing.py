"""Balancing through the service: /setup validation, retrain with balancing, synthetic samples kept apart."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import func, select

from tests.api.helpers import annotate_digits, digit_task, wait_trained
from tests.factories import IMAGE_CONFIG, predict_payload, setup_payload

P = 61
TINY_DDPM = {"image_size": 8, "block_out_channels": [16, 32], "train_steps": 20, "batch_size": 32,
             "inference_steps": 3, "warmup_steps": 5}


@pytest.mark.parametrize(("extra", "message"), [
    ({"balancing": "smote_please"}, "unknown balancing method 'smote_please'"),
    ({"balancing": 3}, "balancing must be a name"),
    ({"balancing": "smote"}, "needs the vector learner"),
    ({"balancing": "auto+ddpm"}, "'auto' cannot be combined"),
    ({"balancing": "class_weight", "balancing_params": {"gate_treshold": 0.5}}, "unknown balancing_params"),
    ({"balancing": "ddpm", "balancing_params": {"gate_threshold": 1.5}}, "gate_threshold must be in"),
    ({"balancing": "ddpm", "balancing_params": {"synthesizer_params": {"steps": 5}}}, "bad parameters"),
    ({"balancing": "augment", "learner": "image", "balancing_params": {"augmenter": "warp9"}},
     "unknown augmenter 'warp9'"),
    ({"balancing": "sd_img2img"}, "needs model_path"),
    ({"balancing": "logit_adjusted", "learner": "vector"}, "not a torch learner"),
    ({"balancing": "augment", "learner": "image", "balancing_params": {"augmenter": "style_transfer"}},
     "task data field that names each image's domain"),
    ({"balancing": "augment", "learner": "image", "balancing_params": {"augmenter": "style_transfer",
                                                                      "style_transfer": {"site": "x"}}},
     "task data field that names each image's domain"),
])
def test_invalid_balancing_settings_get_a_clear_400_at_setup(client, extra, message) -> None:
    # the full check; until the background warm-up has imported the plugins /setup checks only names and params
    assert client.app.state.service.plugins_ready.wait(120)
    response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, extra))
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_retrain_with_balancing_stores_synthetic_samples_apart_from_labels(client_factory, digits_root) -> None:
    from labelsieve.storage import rankings
    from labelsieve.storage.db import session_scope
    from labelsieve.storage.models import Annotation, ModelVersion, Task
    from labelsieve.storage.synthetic import list_synthetic

    root, paths, labels = digits_root
    extra = {"learner": "image", "learner_params": {"image_size": 8, "epochs": 6}, "balancing": "logit_adjusted+ddpm",
             "balancing_params": {"synthesizer_params": TINY_DDPM, "gate_threshold": 0.0}}
    by_class = {c: np.flatnonzero(labels == c) for c in (0, 1, 2)}
    train = [*by_class[0][:20], *by_class[1][:20], *by_class[2][:4]]
    pool_ids = [*by_class[0][50:55], *by_class[2][50:55]]
    with client_factory(local_files_document_root=root, debounce_seconds=0.3) as client:
        assert client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, extra)).status_code == 200
        pool = [digit_task(1000 + int(i), paths[int(i)], P) for i in pool_ids]
        assert client.post("/predict", json=predict_payload(P, IMAGE_CONFIG, pool)).status_code == 200
        annotate_digits(client, P, paths, labels, train)
        wait_trained(client)

        status = client.get(f"/projects/{P}").json()
        assert status["class_counts"] == {"0": 20, "1": 20, "2": 4} and status["imbalance_ratio"] == 5.0
        ready = [v for v in status["versions"] if v["status"] == "ready"]
        assert len(ready) == 1 and ready[0]["n_train"] == 44, status["versions"]
        assert status["annotations"] == 44 and status["tasks"] == 44 + len(pool)
        assert status["synthetic_samples"] > 0
        assert ready[0]["balancing"]["applied"] == ["logit_adjusted", "ddpm"]
        assert ready[0]["balancing"]["synthetic"]["kept"] == status["synthetic_samples"]
        metrics = client.get("/metrics").text
        assert f'labelsieve_imbalance_ratio{{project="{P}"}} 5.0' in metrics
        assert f'labelsieve_class_count{{label="2",project="{P}"}} 4.0' in metrics

        engine = client.app.state.service.engine
        with session_scope(engine) as session:
            synthetic = list_synthetic(session=session, project_id=P)
            version = session.exec(select(ModelVersion).where(ModelVersion.project_id == P)).one()
            n_annotations = session.exec(select(func.count()).select_from(Annotation)).one()
            task_ids = set(session.exec(select(Task.id).where(Task.project_id == P)))
            predicted_ids = {t.task_id for t in rankings.ranked_tasks(session=session, project_id=P,
                                                                        version=version.version)}
        assert synthetic, "the DDPM produced no synthetic sample"
        assert {s.label for s in synthetic} == {"2"} and {s.synthesizer for s in synthetic} == {"ddpm"}
        assert all(s.synthetic and s.model_version == ready[0]["version"] for s in synthetic)
        assert all(s.quality is not None and s.artifact.endswith(".png") for s in synthetic)
        assert len(synthetic) == version.metrics["balancing"]["synthetic"]["kept"] <= 16
        assert version.learner_params["loss"] == "logit_adjusted"
        assert version.class_counts == {"0": 20, "1": 20, "2": 4}, "synthetic samples are not labels"
        assert n_annotations == 44
        assert predicted_ids <= task_ids  # predictions (what Label Studio gets) exist only for real tasks

        body = client.post("/predict", json=predict_payload(P, IMAGE_CONFIG, pool)).json()
        assert len(body["results"]) == len(pool)
        assert all(r["model_version"] == ready[0]["version"] for r in body["results"])


def test_style_transfer_without_the_domain_field_in_the_tasks_trains_on_real_items_and_says_why(
        client_factory, digits_root) -> None:
    root, paths, labels = digits_root
    extra = {"learner": "image", "learner_params": {"image_size": 8, "epochs": 2}, "balancing": "augment",
             "balancing_params": {"augmenter": "style_transfer",
                                  "style_transfer": {"domain_field": "site", "train_steps": 5, "channels": 1}}}
    by_class = {c: np.flatnonzero(labels == c) for c in (0, 1)}
    train = [*by_class[0][:12], *by_class[1][:4]]
    with client_factory(local_files_document_root=root, debounce_seconds=0.3) as client:
        assert client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, extra)).status_code == 200
        annotate_digits(client, P, paths, labels, train)
        wait_trained(client)
        ready = [v for v in client.get(f"/projects/{P}").json()["versions"] if v["status"] == "ready"]
        assert len(ready) == 1 and ready[0]["n_train"] == 16, ready
        skipped = ready[0]["balancing"]["skipped"]
        assert "style_transfer: the translation failed" in skipped[0] and "no task has 'site'" in skipped[0]
