"""Multi-label against a real Label Studio 1.23.2: a ``choice="multiple"`` project gets its queue head pushed with a
score on every region (label sets pre-ticked with the gate off), ``/next`` serves labelsieve's ranking, and the
predictions read back through Label Studio's API hold label sets from the config."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.helpers import label_and_wait, prediction_rows, submit
from tests.e2e.test_live_queue import next_id, ranking

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="topics" toName="text" choice="multiple">
<Choice value="sports"/><Choice value="weather"/><Choice value="food"/></Choices></View>"""
WORDS = {"sports": ["goal", "match", "team", "striker", "referee", "tennis"],
         "weather": ["rain", "storm", "sunny", "forecast", "wind", "snow"],
         "food": ["pasta", "recipe", "bread", "cheese", "soup", "dinner"]}
DEPTH = 20
EXTRA = {"strategy": "multilabel_uncertainty", "min_annotations": 15, "retrain_every": 100000, "queue_depth": DEPTH,
         "preannotate_threshold": 0}


def items(n: int) -> list[tuple[str, list[str]]]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        labels = sorted(rng.choice(list(WORDS), size=int(rng.integers(1, 3)), replace=False).tolist())
        words = [str(w) for label in labels for w in rng.choice(WORDS[label], size=2, replace=False)]
        out.append(("news about " + " and ".join(words), labels))
    return out


def labels_result(labels: list[str]) -> list[dict]:
    return [{"from_name": "topics", "to_name": "text", "type": "choices", "value": {"choices": labels}}]


def test_multi_label_head_region_scores_and_next_order(label_studio, labelsieve_server) -> None:
    ls, server = label_studio, labelsieve_server
    data = items(150)
    pid = int(ls.api("POST", "/api/projects", json={"title": "multi-label", "label_config": CONFIG}).json()["id"])
    imported = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=[{"text": t} for t, _ in data])
    assert imported.status_code == 201, imported.text
    truth = {int(tid): labels for tid, (_, labels) in zip(imported.json()["task_ids"], data, strict=True)}
    first = list(truth)[:15]
    _, version = label_and_wait(ls, server.url, pid, CONFIG, EXTRA, {tid: labels_result(truth[tid]) for tid in first})
    order = [t for t in ranking(server, pid, version) if t not in set(first)]

    rows = prediction_rows(ls, pid, version)
    assert set(rows) == set(order[:DEPTH]), "the head of labelsieve's ranking is pushed"
    assert sorted(rows, key=lambda t: rows[t]["score"]) == order[:DEPTH], "scores encode labelsieve's rank"
    with_regions = [r for r in rows.values() if r["result"]]
    assert with_regions, "with the gate off the predicted label sets are pre-ticked"
    for row in with_regions:
        (region,) = row["result"]
        assert region["type"] == "choices" and 0 < region["score"] <= 1, region
        assert set(region["value"]["choices"]) <= set(WORDS)
        assert region["value"]["choices"], "a region holds the labels at or above threshold"
    # (no accuracy check here: the head is by construction the tasks the model is least sure of)

    for expected in order[:3]:  # Label Studio's label stream follows labelsieve's ranking
        served = next_id(ls, pid)
        assert served == expected, f"served {served}, labelsieve's next is {expected}"
        submit(ls, served, labels_result(truth[served]))
