"""``labelsieve audit`` on a data set with a leaky test set, and ``GET /projects/{id}/audit`` on a live project with a
mislabelled duplicate pair; unknown project 404, no model yet 409."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from labelsieve.cli import app
from tests.factories import IMAGE_CONFIG, setup_payload
from tests.quality.helpers import noisy_digits
from tests.quality.test_service_quality import PROJECT, _annotate, _settle


def test_cli_audits_a_data_set_against_its_test_set(tmp_path) -> None:
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    for name, idx in (("pool", order[:300]), ("test", np.concatenate([order[300:380], order[:12]]))):
        frame = pd.DataFrame(X[idx], columns=[f"p{k}" for k in range(64)])
        frame["label"] = [f"d{v}" for v in y[idx]]
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    result = CliRunner().invoke(app, ["audit", "--dataset", str(tmp_path / "pool.csv"), "--test-dataset",
                                      str(tmp_path / "test.csv"), "--learner", "vector", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["leakage"]["found"] and report["counts"]["test_items_leaked"] == 12
    bad = CliRunner().invoke(app, ["audit", "--dataset", "digits", "--run", str(tmp_path)])
    assert bad.exit_code == 2 and "exactly one" in bad.output


def test_project_audit_endpoint_flags_a_mislabelled_duplicate_pair(client_factory) -> None:
    X, given, _, _ = noisy_digits(0.0, seed=6)
    X, given = X.copy(), given.copy()
    X[31] = X[30]
    given[31] = (given[30] + 1) % 10  # the same image, another label
    with client_factory() as client:
        assert client.get("/projects/999/audit").status_code == 404
        extra = {"learner": "vector", "cv_estimate": False, "label_issues": False}
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        early = client.get(f"/projects/{PROJECT}/audit")
        assert early.status_code == 409 and "no trained model" in early.text
        _annotate(client, X, given, range(100))
        _settle(client)
        assert "No audit yet" in client.get(f"/projects/{PROJECT}/page").text
        response = client.get(f"/projects/{PROJECT}/audit")
        page = client.get(f"/projects/{PROJECT}/page").text
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tasks"]["labelled"] == 100 and body["counts"]["conflicting_label_duplicates"] >= 1
    assert any({m["id"] for m in group} == {1030, 1031} for group in body["exact_duplicates"]["conflicts"])
    assert 'id="audit"' in page and "conflicting label duplicates" in page
