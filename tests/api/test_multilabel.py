"""Multi-label projects through the service: /setup refusals naming strategy and task type (or the mixed tags),
training on label sets, /predict with a score on every region, the pre-annotation gate, and a task without its
text field failing alone."""

from __future__ import annotations

import numpy as np

from tests.api.helpers import wait_trained
from tests.factories import ls_task, predict_payload, project_dict, setup_payload

MULTI = ('<View><Text name="text" value="$text"/><Choices name="topics" toName="text" choice="multiple">'
         '<Choice value="travel"/><Choice value="sport"/><Choice value="food"/></Choices></View>')
MIXED = ('<View><Text name="text" value="$text"/><Choices name="topics" toName="text" choice="multiple">'
         '<Choice value="travel"/><Choice value="sport"/></Choices><Choices name="mood" toName="text">'
         '<Choice value="up"/><Choice value="down"/></Choices></View>')
WORDS = {"travel": ["flight", "hotel", "paris", "beach"], "sport": ["football", "tennis", "match", "goal"],
         "food": ["pizza", "pasta", "recipe", "dinner"]}


def _text(labels: tuple[str, ...], rng: np.random.Generator) -> str:
    return " ".join(str(w) for label in labels for w in rng.choice(WORDS[label], size=2, replace=False))


def _sets(n: int, seed: int) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(seed)
    names = list(WORDS)
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 3))
        out.append(tuple(sorted(rng.choice(names, size=k, replace=False).tolist())))
    return out


def _event(annotation_id: int, task: dict, project: int, labels: tuple[str, ...]) -> dict:
    result = [{"id": f"r{annotation_id}", "from_name": "topics", "to_name": "text", "type": "choices",
               "value": {"choices": list(labels)}, "origin": "manual"}]
    annotation = {"id": annotation_id, "result": result, "was_cancelled": False, "ground_truth": False,
                  "lead_time": 2.0, "task": task["id"], "project": project, "completed_by": 1}
    return {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task,
            "project": project_dict(project, MULTI)}


def test_setup_refuses_a_strategy_that_does_not_serve_multi_label_naming_both(client) -> None:
    response = client.post("/setup", json=setup_payload(71, MULTI, {"strategy": "margin"}))
    assert response.status_code == 400, response.text
    assert "'margin'" in response.text and "'multi_label'" in response.text
    response = client.post("/setup", json=setup_payload(71, MULTI, {"learner": "text", "strategy": "mmc"}))
    assert response.status_code == 400 and "'text'" in response.text and "multi_label" in response.text
    response = client.post("/setup", json=setup_payload(71, MULTI, {"strategy": "lci"}))
    assert response.status_code == 200, response.text


def test_setup_refuses_a_config_mixing_kinds_naming_the_tags(client) -> None:
    response = client.post("/setup", json=setup_payload(72, MIXED))
    assert response.status_code == 400
    assert "<Choices name='topics'>" in response.text and "<Choices name='mood'>" in response.text


def _trained(client, project: int, extra: dict) -> tuple[list[dict], list[tuple[str, ...]]]:
    """A multi-label project trained on 40 label sets; /predict over 30 pool tasks and one without its text."""
    rng = np.random.default_rng(0)
    assert client.post("/setup", json=setup_payload(project, MULTI, extra)).status_code == 200
    labelled = _sets(40, seed=1)
    pool_sets = _sets(30, seed=2)
    pool = [ls_task(2000 + k, {"text": _text(s, rng)}, project) for k, s in enumerate(pool_sets)]
    broken = ls_task(2999, {"other": "no text field"}, project)
    assert client.post("/predict", json=predict_payload(project, MULTI, pool)).status_code == 200
    for k, labels in enumerate(labelled):
        task = ls_task(1000 + k, {"text": _text(labels, rng)}, project)
        assert client.post("/webhook", json=_event(7000 + k, task, project, labels)).status_code == 200
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(project, MULTI)})
    wait_trained(client)
    body = client.post("/predict", json=predict_payload(project, MULTI, [*pool, broken]))
    assert body.status_code == 200, body.text
    results = body.json()["results"]
    assert len(results) == len(pool) + 1
    return results, pool_sets


def test_multi_label_trains_ranks_and_predicts_label_sets_with_region_scores(client) -> None:
    extra = {"strategy": "multilabel_uncertainty", "retrain_every": 1000, "preannotate_threshold": 0}
    results, pool_sets = _trained(client, 73, extra)
    pool = results[:-1]
    assert results[-1]["result"] == [], "a task without the text field gets no answer"
    assert all(r["model_version"].startswith("labelsieve-v1") for r in results)
    exact = 0
    for r, truth in zip(pool, pool_sets, strict=True):
        assert 0 < r["score"] < 1
        for region in r["result"]:
            assert region["type"] == "choices" and 0 < region["score"] <= 1
        picked = tuple(sorted(r["result"][0]["value"]["choices"])) if r["result"] else ()
        exact += picked == truth
    assert exact >= len(pool) // 2, f"only {exact} of {len(pool)} label sets right"
    scores = sorted({r["score"] for r in results[:-1]})
    assert len(scores) == len(pool), "every pooled task has its own rank-encoded score"


def test_the_pre_annotation_gate_holds_label_sets_back_without_evidence(client) -> None:
    results, _ = _trained(client, 74, {"strategy": "mmc", "retrain_every": 1000})  # default threshold 0.8
    assert all(r["result"] == [] and 0 < r["score"] < 1 for r in results[:-1]), "pre-ticked without evidence"
    gate = client.get("/projects/74").json()["preannotation"]
    assert gate["pre_ticks"] is False and gate["evidence"] == 0


TAXONOMY = ('<View><Text name="text" value="$text"/><Taxonomy name="tax" toName="text">'
            '<Choice value="Topic"><Choice value="sport"/><Choice value="food"/></Choice><Choice value="travel"/>'
            '</Taxonomy></View>')


def test_a_taxonomy_project_is_served_as_multi_label_over_its_leaves(client) -> None:
    assert client.post("/setup", json=setup_payload(75, TAXONOMY)).status_code == 200
    for k, paths in enumerate([[["Topic", "sport"], ["travel"]], [["Topic", "food"]], [["Topic"]]]):
        task = ls_task(3000 + k, {"text": f"item {k}"}, 75)
        event = _event(8000 + k, task, 75, ())
        event["annotation"]["result"] = [{"from_name": "tax", "to_name": "text", "type": "taxonomy",
                                          "value": {"taxonomy": paths}}]
        event["project"] = project_dict(75, TAXONOMY)
        assert client.post("/webhook", json=event).status_code == 200
    client.app.state.service.worker.wait_idle(60)
    status = client.get("/projects/75").json()
    assert status["labeled_tasks"] == 2, "leaf paths are labels; an inner node alone is no answer"
    extendable = TAXONOMY.replace('name="tax"', 'name="tax" userLabels="true"')
    refused = client.post("/setup", json=setup_payload(76, extendable))
    assert refused.status_code == 400 and "userLabels" in refused.text
