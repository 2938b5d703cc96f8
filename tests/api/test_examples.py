"""Every file under examples/ is accepted by /setup, so the examples users copy stay valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import IMAGE_CONFIG, setup_payload

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIGS = sorted((EXAMPLES / "label-configs").glob("*.xml"))
PARAMS = sorted((EXAMPLES / "extra-params").glob("*.json"))


def test_examples_exist() -> None:
    assert CONFIGS and PARAMS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_label_config_is_accepted(client, path: Path) -> None:
    response = client.post("/setup", json=setup_payload(71, path.read_text()))
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "labelsieve-v0"


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: p.name)
def test_example_extra_params_are_accepted(client, path: Path) -> None:
    params = json.loads(path.read_text())
    response = client.post("/setup", json=setup_payload(72, IMAGE_CONFIG, params))
    assert response.status_code == 200, response.text
    project = client.get("/projects/72").json()
    assert project["settings"]["strategy"] == params["strategy"]
    assert project["settings"]["batch_size"] == params["batch_size"]
