"""Annotations arrive by webhook, the worker retrains once per burst, and the model learns digits."""

from __future__ import annotations

import numpy as np

from tests.api.helpers import annotate_digits, digit_task, wait_trained
from tests.factories import IMAGE_CONFIG, predict_payload, setup_payload

PROJECT = 7


def test_webhook_burst_trains_one_model_that_predicts_held_out_digits(client_factory, digits_root) -> None:
    root, paths, labels = digits_root
    rng = np.random.default_rng(0)
    order = rng.permutation(len(paths))
    train_ids, test_ids = order[:300], order[1500:1600]
    # one burst, however long its 300 webhooks take to send on a loaded machine (a stream longer than the lag bound
    # retrains meanwhile, by design: tests/reliability/test_burst_coalescing.py)
    with client_factory(local_files_document_root=root, debounce_seconds=1.0,
                        retrain_max_lag_seconds=3600.0) as client:
        gate_off = {"preannotate_threshold": 0}  # every prediction pre-ticked: the test reads its labels
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, gate_off)).json()["model_version"]
        # the unlabeled pool the strategy ranks
        pool = [digit_task(1000 + int(i), paths[int(i)], PROJECT) for i in order[300:500]]
        assert client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, pool)).status_code == 200
        annotate_digits(client, PROJECT, paths, labels, train_ids)
        wait_trained(client)

        status = client.get(f"/projects/{PROJECT}").json()
        ready = [v for v in status["versions"] if v["status"] == "ready"]
        assert len(ready) == 1, "a burst of 300 webhooks must lead to one retrain, not one each"
        assert status["labeled_tasks"] == 300
        assert status["last_round"]["n_pool"] == 200

        tasks = [digit_task(1000 + int(i), paths[int(i)], PROJECT) for i in test_ids]
        body = client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, tasks)).json()
        assert len(body["results"]) == len(tasks)
        predicted = [r["result"][0]["value"]["choices"][0] for r in body["results"]]
        accuracy = np.mean([p == str(labels[int(i)]) for p, i in zip(predicted, test_ids, strict=True)])
        assert accuracy > 0.6, f"held-out accuracy {accuracy:.2f} is not well above chance (0.10)"
        assert all(r["model_version"] == ready[0]["version"] for r in body["results"])
