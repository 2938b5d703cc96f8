"""Honest pre-annotations: a prediction carries a pre-ticked answer only when the model is likely right.

The gate is the project's estimated (prequential) accuracy — how often the serving model's prediction matched the
label that came next — with enough evidence, and the task's own confidence, both above ``preannotate_threshold``.
An untrained model, a model without evidence yet, and a model at (or below) chance pre-tick nothing: their
predictions carry the score alone.
"""

from __future__ import annotations

import numpy as np

from tests.api.helpers import wait_trained
from tests.factories import TEXT_CONFIG, annotation_event, ls_task, predict_payload, project_dict, setup_payload

GOOD = ["great", "wonderful", "excellent", "lovely", "superb", "delightful", "brilliant", "charming"]
BAD = ["awful", "terrible", "boring", "dreadful", "horrible", "dull", "miserable", "painful"]


def _tasks(project: int, first_id: int, n: int, seed: int) -> list[tuple[dict, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        label = "Positive" if k % 2 else "Negative"
        words = rng.choice(GOOD if label == "Positive" else BAD, size=3, replace=False)
        out.append((ls_task(first_id + k, {"text": " ".join(words) + " film"}, project), label))
    return out


def _annotate(client, project: int, tasks: list[tuple[dict, str]], first_id: int, *, flip: bool = False) -> None:
    for k, (task, label) in enumerate(tasks):
        choice = {"Positive": "Negative", "Negative": "Positive"}[label] if flip else label
        event = annotation_event("ANNOTATION_CREATED", annotation_id=first_id + k, task=task, project_id=project,
                                 config=TEXT_CONFIG, from_name="sentiment", to_name="text", choice=choice)
        assert client.post("/webhook", json=event).status_code == 200


def _predict(client, project: int, tasks: list[tuple[dict, str]]) -> list[dict]:
    body = client.post("/predict", json=predict_payload(project, TEXT_CONFIG, [t for t, _ in tasks]))
    assert body.status_code == 200, body.text
    return body.json()["results"]


def _trained_with_evidence(client, project: int, *, flip: bool, threshold: float) -> list[tuple[dict, str]]:
    """v1 on 10 labels; then 30 labels arrive on tasks v1 had ranked (correct, or all flipped: below chance)."""
    extra = {"learner": "text", "retrain_every": 1000, "preannotate_threshold": threshold}
    assert client.post("/setup", json=setup_payload(project, TEXT_CONFIG, extra)).status_code == 200
    train, pool = _tasks(project, 1, 10, seed=project), _tasks(project, 1000, 40, seed=project + 1)
    untrained = _predict(client, project, pool)  # also puts the pool in the store: v1 ranks it
    assert all(r["result"] == [] for r in untrained), "an untrained model pre-ticked an answer"
    _annotate(client, project, train, 10 * project)
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(project, TEXT_CONFIG)})
    wait_trained(client)
    no_evidence = _predict(client, project, pool)
    assert all(r["result"] == [] and r["score"] is not None for r in no_evidence), "pre-ticked without evidence"
    gate = client.get(f"/projects/{project}").json()["preannotation"]
    assert gate["evidence"] == 0 and gate["pre_ticks"] is False
    _annotate(client, project, pool[:30], 10 * project + 100, flip=flip)
    wait_trained(client)
    return pool[30:]


def test_a_model_shown_right_pre_ticks_its_confident_answers(client) -> None:
    rest = _trained_with_evidence(client, 61, flip=False, threshold=0.6)
    gate = client.get("/projects/61").json()["preannotation"]
    assert gate["evidence"] == 30 and gate["estimated_accuracy"] > 0.6 and gate["pre_ticks"] is True, gate
    results = _predict(client, 61, rest)
    ticked = [(r, label) for r, (_, label) in zip(results, rest, strict=True) if r["result"]]
    assert ticked, "a model right on the labels that came next pre-ticks its confident answers"
    for r, label in ticked:
        assert r["result"][0]["value"]["choices"] == [label] and r["result"][0]["score"] > 0.6


def test_a_model_below_chance_pre_ticks_nothing(client) -> None:
    rest = _trained_with_evidence(client, 62, flip=True, threshold=0.6)
    gate = client.get("/projects/62").json()["preannotation"]
    assert gate["evidence"] == 30 and gate["estimated_accuracy"] < 0.5 and gate["pre_ticks"] is False, gate
    results = _predict(client, 62, rest)
    assert all(r["result"] == [] and r["score"] is not None for r in results), "a wrong model pre-ticked answers"


def test_preannotate_threshold_is_validated(client) -> None:
    bad = client.post("/setup", json=setup_payload(63, TEXT_CONFIG, {"preannotate_threshold": 1.5}))
    assert bad.status_code == 400 and "preannotate_threshold" in bad.json()["detail"]
