"""An image project on the packaged encoder through the service: a pool beyond ``embedding_budget`` is ranked on
pixels at once and encoded in the background, then the project switches to encoder vectors, which a restart finds
on disk; the choice shows in the status and on the page; a damaged weights file is refused at /setup; an image that
does not decode is skipped with its task named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.learners.pretrained import lite0_installed
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from tests.api.helpers import annotate_digits, digit_task, wait_trained
from tests.factories import IMAGE_CONFIG, predict_payload, setup_payload

pytestmark = pytest.mark.skipif(not lite0_installed(), reason="the encoders extra (EfficientNet-Lite0) is missing")
P = 31
#: a small input keeps the forward passes cheap on two shared cores
EXTRA = {"embedding_budget": 10, "learner_params": {"encoder_params": {"image_size": 32}}, "label_issues": False,
         "cv_estimate": False, "stop_set_size": 0, "preannotate_threshold": 0}


def test_an_image_pool_is_encoded_in_the_background_then_served_from_the_store(client_factory, digits_root) -> None:
    root, paths, labels = digits_root
    order = np.random.default_rng(1).permutation(len(paths))
    with client_factory(local_files_document_root=root, image_encoder="auto") as client:
        service = client.app.state.service
        assert client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, EXTRA)).status_code == 200
        pool = [digit_task(1000 + int(i), paths[int(i)], P) for i in order[40:100]]
        assert client.post("/predict", json=predict_payload(P, IMAGE_CONFIG, pool)).status_code == 200
        annotate_digits(client, P, paths, labels, order[:30])
        wait_trained(client)
        # 90 images to encode > 10: the first version trained on pixels (read from the stored versions: the job
        # may already have finished and forced the retrain on vectors by the time the status is read)
        with session_scope(service.engine) as session:
            first = [v for v in crud.list_model_versions(session=session, project_id=P) if v.status == "ready"][0]
        assert "pixels" in first.metrics["learner_choice"], first.metrics
        assert service.image_features.wait(600)
        wait_trained(client)  # the job's end forces a retrain, on the encoder's vectors
        status = client.get(f"/projects/{P}").json()
        assert "efficientnet_lite0 encoder vectors" in status["learner_choice"], status["learner_choice"]
        assert status["image_features"]["next_round"] == "encoder" and status["image_features"]["job"] == "done"
        page = client.get(f"/projects/{P}/page").text
        assert "Model and features" in page and "efficientnet_lite0 encoder vectors" in page

    with client_factory(local_files_document_root=root, image_encoder="auto") as client:  # a restart
        service = client.app.state.service
        annotate_digits(client, P, paths, labels, order[30:36], first_id=7000)
        wait_trained(client)
        status = client.get(f"/projects/{P}").json()
        assert "efficientnet_lite0 encoder vectors" in status["learner_choice"]
        features = status["image_features"]
        # the 90 images seen before come from disk; only the 6 new tasks' images are encoded, inline (6 <= 10)
        assert features["job"] is None and (features["encoded"], features["total"]) == (90, 96)


def test_a_damaged_weights_file_is_refused_at_setup_naming_it(client_factory, tmp_path: Path) -> None:
    damaged = tmp_path / "my-resnet.pth"
    damaged.write_bytes(b"PK\x03\x04 cut short")
    extra = {"learner_params": {"encoder": "torchvision", "encoder_params": {"weights": str(damaged)}}}
    with client_factory() as client:
        answer = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, extra))
        assert answer.status_code == 400 and str(damaged) in answer.text and "truncated" in answer.text


def test_an_image_that_does_not_decode_is_skipped_with_its_task_named(client_factory, digits_root) -> None:
    root, paths, labels = digits_root
    broken = Path(root) / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with client_factory(local_files_document_root=root, image_encoder="auto") as client:
        extra = {**EXTRA, "embedding_budget": 1000}
        assert client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, extra)).status_code == 200
        pool = [digit_task(1000 + i, paths[i], P) for i in range(40, 60)] + [digit_task(4242, "broken.png", P)]
        assert client.post("/predict", json=predict_payload(P, IMAGE_CONFIG, pool)).status_code == 200
        annotate_digits(client, P, paths, labels, list(range(20)))
        wait_trained(client)
        status = client.get(f"/projects/{P}").json()
        assert "efficientnet_lite0 encoder vectors" in status["learner_choice"]  # 41 to encode <= 1000: inline
        assert status["input_errors"]["count"] == 1 and "4242" in status["input_errors"]["tasks"]
        assert "task 4242" in client.get(f"/projects/{P}/page").text
