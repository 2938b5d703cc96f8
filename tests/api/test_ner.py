"""Named-entity projects through the service: /setup (HyperText and non-serving strategies refused), training on
span annotations (one with no entity, one with a bad span), ranking by the task type's uncertainty, and /predict
with span regions whose offsets reproduce the text, behind the pre-annotation gate."""

from __future__ import annotations

from tests.api.helpers import wait_trained
from tests.factories import ls_task, predict_payload, project_dict, setup_payload
from tests.spans.corpus import make_corpus

NER = ('<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
       '<Text name="text" value="$text"/></View>')
HYPER = ('<View><Labels name="label" toName="page"><Label value="PER"/></Labels>'
         '<HyperText name="page" value="$html"/></View>')


def _sentence(words: list[str], tags: list[str]) -> tuple[str, list[dict]]:
    text, result, position, starts = "  ".join(words), [], 0, []  # two spaces between words
    for word in words:
        starts.append(position)
        position += len(word) + 2
    for k, tag in enumerate(tags):
        if tag.startswith("B-"):
            end = k
            while end + 1 < len(tags) and tags[end + 1].startswith("I-"):
                end += 1
            s, e = starts[k], starts[end] + len(words[end])
            result.append({"id": f"s{k}", "from_name": "label", "to_name": "text", "type": "labels",
                           "value": {"start": s, "end": e, "text": text[s:e], "labels": [tag[2:]]}})
    return text, result


def _event(annotation_id: int, task: dict, project: int, result: list[dict]) -> dict:
    annotation = {"id": annotation_id, "result": result, "was_cancelled": False, "ground_truth": False,
                  "lead_time": 3.0, "task": task["id"], "project": project, "completed_by": 1}
    return {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task,
            "project": project_dict(project, NER)}


def test_setup_refuses_hypertext_and_strategies_that_do_not_serve_ner(client) -> None:
    response = client.post("/setup", json=setup_payload(81, HYPER))
    assert response.status_code == 400 and "HyperText" in response.text
    response = client.post("/setup", json=setup_payload(81, NER, {"strategy": "margin"}))
    assert response.status_code == 400 and "'margin'" in response.text and "'ner'" in response.text
    assert client.post("/setup", json=setup_payload(81, NER, {"strategy": "task_uncertainty"})).status_code == 200
    assert client.post("/setup", json=setup_payload(81, NER)).status_code == 200  # the type's default strategy


def test_ner_trains_ranks_and_predicts_spans_with_exact_offsets(client) -> None:
    project = 82
    extra = {"strategy": "task_uncertainty", "retrain_every": 1000, "preannotate_threshold": 0}
    assert client.post("/setup", json=setup_payload(project, NER, extra)).status_code == 200
    sentences, tags = make_corpus(60, seed=31)
    pool_sentences, pool_tags = make_corpus(25, seed=32)
    pool = []
    for k, (words, sequence) in enumerate(zip(pool_sentences, pool_tags, strict=True)):
        pool.append(ls_task(4000 + k, {"text": "🎉 " + _sentence(words, sequence)[0]}, project))
    assert client.post("/predict", json=predict_payload(project, NER, pool)).status_code == 200
    for k, (words, sequence) in enumerate(zip(sentences, tags, strict=True)):
        text, result = _sentence(words, sequence)
        if k == 0:  # a bad span (offsets one short of its text) is dropped, the rest of the annotation kept
            result.append({"from_name": "label", "to_name": "text", "type": "labels",
                           "value": {"start": 0, "end": 2, "text": text[0:3], "labels": ["PER"]}})
        task = ls_task(3000 + k, {"text": text}, project)
        assert client.post("/webhook", json=_event(8000 + k, task, project, result)).status_code == 200
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(project, NER)})
    wait_trained(client)
    body = client.post("/predict", json=predict_payload(project, NER, pool))
    assert body.status_code == 200, body.text
    results = body.json()["results"]
    versions = {r["model_version"] for r in results}
    assert len(versions) == 1 and versions.pop() != "labelsieve-v0", "one trained version serves every task"
    found = 0
    for r, task, sequence in zip(results, pool, pool_tags, strict=True):
        text = task["data"]["text"]
        assert 0 < r["score"] < 1
        for region in r["result"]:
            value = region["value"]
            assert region["type"] == "labels" and 0 < region["score"] <= 1
            assert text[value["start"]:value["end"]] == value["text"]
        found += len(r["result"]) == sum(t.startswith("B-") for t in sequence)
    assert found >= len(pool) * 0.8, f"entity count right in only {found} of {len(pool)} sentences"
    assert len({r["score"] for r in results}) == len(pool), "every pooled task has its own rank-encoded score"


def test_gate_keeps_regions_back_without_evidence(client) -> None:
    project = 83
    extra = {"strategy": "task_uncertainty", "retrain_every": 1000}  # default gate: needs prequential evidence
    assert client.post("/setup", json=setup_payload(project, NER, extra)).status_code == 200
    sentences, tags = make_corpus(30, seed=33)
    for k, (words, sequence) in enumerate(zip(sentences, tags, strict=True)):
        text, result = _sentence(words, sequence)
        task = ls_task(5000 + k, {"text": text}, project)
        assert client.post("/webhook", json=_event(9000 + k, task, project, result)).status_code == 200
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(project, NER)})
    wait_trained(client)
    pool = [ls_task(5900, {"text": "Ana Lopez lives in Oslo ."}, project)]
    results = client.post("/predict", json=predict_payload(project, NER, pool)).json()["results"]
    assert results[0]["result"] == [] and 0 < results[0]["score"] <= 1
