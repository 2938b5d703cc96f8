"""Through the service (webhooks → worker → background quality pass) for a named-entity project, no Label Studio:
``GET /projects/{id}/issues`` lists the planted errors with their token span, a review result with exact offsets and
the gate's numbers (tests/e2e/test_live_region_quality.py pushes them into a real Label Studio)."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.spans.bio import tags_to_spans
from labelsieve.spans.tokens import join_tokens
from tests.factories import annotation_event, ls_task, setup_payload
from tests.spans.corpus import make_corpus

PROJECT = 12
N = 90
NER = ('<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
       '<Text name="text" value="$text"/></View>')


def test_a_span_project_gets_candidates_with_spans_and_offsets(client_factory) -> None:
    sentences, tags = make_corpus(N, seed=8)
    with_both = [i for i, t in enumerate(tags) if "B-PER" in t and "B-LOC" in t]
    missed = set(with_both[:20:4])
    events, texts = [], {}
    for i, (words, sequence) in enumerate(zip(sentences, tags, strict=True)):
        text, tokens = join_tokens(words)
        texts[1000 + i] = text
        if i in missed:  # the annotator left the city untagged
            sequence = ["O" if t.endswith("LOC") else t for t in sequence]
        task = ls_task(1000 + i, {"text": text}, PROJECT)
        event = annotation_event("ANNOTATION_CREATED", annotation_id=7000 + i, task=task, project_id=PROJECT,
                                 config=NER, from_name="label", to_name="text", choice="")
        event["annotation"]["result"] = [
            {"from_name": "label", "to_name": "text", "type": "labels",
             "value": {"start": s.start, "end": s.end, "text": text[s.start:s.end], "labels": [s.label]}}
            for s in tags_to_spans(tokens, sequence)]
        events.append(event)
    batch = {**events[0], "action": "ANNOTATIONS_CREATED", "annotation": [e["annotation"] for e in events],
             "task": [e["task"] for e in events]}
    with client_factory() as client:
        extra = {"min_annotations": N, "retrain_every": N}
        assert client.post("/setup", json=setup_payload(PROJECT, NER, extra)).status_code == 200
        assert client.post("/webhook", json=batch).status_code == 200
        service = client.app.state.service
        assert service.worker.wait_idle(600) and service.quality.wait_idle(600)
        body = client.get(f"/projects/{PROJECT}/issues").json()

    assert body["status"] == "ready" and body["summary"]["gate"]["shown"], body["summary"]
    assert body["summary"]["gate"]["measure"] == "out-of-fold token accuracy"
    candidates = {c["task_id"] - 1000: c for c in body["candidates"]}
    found = set(candidates) & missed
    assert len(found) >= 0.6 * len(missed) and len(found) >= 0.6 * len(candidates), (sorted(candidates), missed)
    for i in found:
        c = candidates[i]
        assert c["recommendation"] == "review" and c["value"] is None
        assert "tagged O" in c["reason"] and "model suggests B-LOC" in c["reason"]
        assert "LOC" in c["suggested_label"] and "LOC" not in c["label"]
        for region in c["review_result"]:
            value = region["value"]
            assert texts[1000 + i][value["start"]:value["end"]] == value["text"]
        assert "LOC" in {r["value"]["labels"][0] for r in c["review_result"]}


MULTI = ('<View><Text name="text" value="$text"/><Choices name="topics" toName="text" choice="multiple">'
         '<Choice value="sports"/><Choice value="weather"/><Choice value="food"/></Choices></View>')
WORDS = {"sports": ["goal", "match", "team", "striker", "referee", "tennis"],
         "weather": ["rain", "storm", "sunny", "forecast", "wind", "snow"],
         "food": ["pasta", "recipe", "bread", "cheese", "soup", "dinner"]}


@pytest.mark.slow  # 26 s on the shared 2-core machine (text features, 5 folds)
def test_a_multi_label_project_gets_the_missing_label_as_a_candidate(client_factory) -> None:
    rng = np.random.default_rng(3)
    events, planted = [], {}
    for i in range(N):
        labels = sorted(rng.choice(list(WORDS), size=int(rng.integers(1, 3)), replace=False).tolist())
        words = [str(w) for label in labels for w in rng.choice(WORDS[label], size=3, replace=False)]
        if len(labels) == 2 and len(planted) < 5 and i % 3 == 0:
            planted[i] = labels.pop()  # the annotator forgot one of two topics
        task = ls_task(2000 + i, {"text": "news about " + " and ".join(words)}, PROJECT)
        event = annotation_event("ANNOTATION_CREATED", annotation_id=8000 + i, task=task, project_id=PROJECT,
                                 config=MULTI, from_name="topics", to_name="text", choice="")
        event["annotation"]["result"] = [{"from_name": "topics", "to_name": "text", "type": "choices",
                                          "value": {"choices": labels}}]
        events.append(event)
    batch = {**events[0], "action": "ANNOTATIONS_CREATED", "annotation": [e["annotation"] for e in events],
             "task": [e["task"] for e in events]}
    # a sharper head than the default C=1: see tests/e2e/test_live_region_quality.py MULTI_LEARNER
    extra = {"min_annotations": N, "retrain_every": N, "learner": "multilabel",
             "learner_params": {"base": "text", "C": 100.0}}
    with client_factory() as client:
        assert client.post("/setup", json=setup_payload(PROJECT, MULTI, extra)).status_code == 200
        assert client.post("/webhook", json=batch).status_code == 200
        service = client.app.state.service
        assert service.worker.wait_idle(600) and service.quality.wait_idle(600)
        body = client.get(f"/projects/{PROJECT}/issues").json()

    assert body["summary"]["gate"]["shown"], body["summary"]
    candidates = {c["task_id"] - 2000: c for c in body["candidates"]}
    found = set(candidates) & set(planted)
    assert len(found) >= 2 and len(found) >= 0.6 * len(candidates), (sorted(candidates), planted)
    for i in found:
        assert f"'{planted[i]}' likely missing" in candidates[i]["reason"]
        (region,) = candidates[i]["review_result"]
        assert region["type"] == "choices" and planted[i] in region["value"]["choices"]
