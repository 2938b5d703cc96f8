"""Label issues of multi-label and named-entity projects against a real Label Studio 1.23.2: a deliberately wrong
annotation is flagged, its review prediction reads back through Label Studio's API as a valid result for the config
(the missing label ticked; spans whose offsets reproduce the text), and the Data Manager tab lists the candidates."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.e2e.helpers import connect_backend, project, wait_version
from tests.e2e.test_live_multilabel import CONFIG as MULTI_CONFIG
from tests.e2e.test_live_multilabel import WORDS
from tests.e2e.test_live_multilabel import annotate as annotate_labels
from tests.e2e.test_live_ner import CONFIG as NER_CONFIG
from tests.e2e.test_live_ner import annotate as annotate_spans
from tests.e2e.test_live_ner import sentences
from tests.e2e.test_live_quality import wait_issues
from tests.harness.labelstudio import LabelStudioServer

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

N_LABELLED = 90
#: cleanlab's multilabel filter flags a label only where the out-of-fold probability beats the average of that
#: label's given positives; the default one-vs-rest head (C=1 on TF-IDF) is too soft on 90 short texts to flag
#: anything (planted errors rank first by issue score, none passes), so this project sharpens it
MULTI_LEARNER = {"learner": "multilabel", "learner_params": {"base": "text", "C": 100.0}}


def _extra(more: dict | None = None) -> dict:
    return {"min_annotations": N_LABELLED, "retrain_every": N_LABELLED, "queue_depth": 5, **(more or {})}


def items(n: int) -> list[tuple[str, list[str]]]:
    """Texts naming three words of each of their one or two topics."""
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        labels = sorted(rng.choice(list(WORDS), size=int(rng.integers(1, 3)), replace=False).tolist())
        words = [str(w) for label in labels for w in rng.choice(WORDS[label], size=3, replace=False)]
        out.append(("news about " + " and ".join(words), labels))
    return out


def _start(ls: LabelStudioServer, server_url: str, title: str, config: str, texts: list[str],
           more: dict | None = None) -> tuple[int, list[int]]:
    pid = int(ls.api("POST", "/api/projects", json={"title": title, "label_config": config}).json()["id"])
    imported = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=[{"text": t} for t in texts])
    assert imported.status_code == 201, imported.text
    extra = _extra(more)
    httpx.post(f"{server_url}/setup", json={"project": f"{pid}.0", "schema": config, "extra_params": extra},
               timeout=300).raise_for_status()
    connect_backend(ls, pid, server_url, extra)
    return pid, [int(t) for t in imported.json()["task_ids"]]


def _review_predictions(ls: LabelStudioServer, pid: int, version: str) -> dict[int, list[dict]]:
    body = ls.api("GET", "/api/predictions/", params={"project": pid, "page_size": 1000}).json()
    rows = body["results"] if isinstance(body, dict) else body
    return {int(r["task"]): r for r in rows if r["model_version"] == version}


def _tab_lists(ls: LabelStudioServer, pid: int, view_id: int) -> set[int]:
    views = ls.api("GET", "/api/dm/views/", params={"project": pid}).json()
    view = next(v for v in views if v["id"] == view_id)
    assert view["data"]["title"] == "labelsieve: label issues"
    listed = ls.api("GET", "/api/tasks/", params={"project": pid, "view": view_id, "page_size": 500}).json()
    return {int(t["id"]) for t in (listed["tasks"] if isinstance(listed, dict) else listed)}


def _check_common(ls: LabelStudioServer, server_url: str, pid: int, planted: set[int]) -> tuple[dict, dict]:
    version = wait_version(ls, pid, other_than=None, timeout=300)
    issues = wait_issues(server_url, pid, version, timeout=300)
    assert issues["summary"]["gate"]["shown"], issues["summary"]["gate"]
    candidates = {c["task_id"]: c for c in issues["candidates"]}
    found = set(candidates) & planted
    assert len(found) >= 0.5 * len(planted) and len(found) >= 0.6 * len(candidates), (sorted(candidates),
                                                                                      sorted(planted))
    review = issues["review_model_version"]
    reviewed = _review_predictions(ls, pid, review)
    assert set(reviewed) == set(candidates), "one review prediction per candidate"
    assert all(r.get("score") is None for r in reviewed.values())
    assert _tab_lists(ls, pid, issues["review"]["view_id"]) == set(candidates)
    assert project(ls, pid)["model_version"] == version, "review predictions must not switch the served version"
    return candidates, {tid: reviewed[tid] for tid in found}


def test_multilabel_missing_label_is_flagged_and_reviewed_in_label_studio(label_studio, labelsieve_server) -> None:
    ls = label_studio
    data = items(N_LABELLED + 10)
    pid, ids = _start(ls, labelsieve_server.url, "multi-label issues", MULTI_CONFIG, [t for t, _ in data],
                      MULTI_LEARNER)
    planted: dict[int, str] = {}
    for k, (tid, (_, labels)) in enumerate(zip(ids[:N_LABELLED], data, strict=False)):
        given = list(labels)
        if len(labels) == 2 and len(planted) < 5 and k % 3 == 0:
            planted[tid] = given.pop()  # the annotator forgot one of the two labels
        annotate_labels(ls, tid, given)
    candidates, reviewed = _check_common(ls, labelsieve_server.url, pid, set(planted))
    for tid, row in reviewed.items():
        assert f"'{planted[tid]}' likely missing" in candidates[tid]["reason"]
        (region,) = row["result"]
        assert region["from_name"] == "topics" and region["type"] == "choices"
        assert planted[tid] in region["value"]["choices"]


def test_ner_missed_and_mistyped_entities_are_flagged_with_exact_offsets(label_studio, labelsieve_server) -> None:
    ls = label_studio
    data = sentences(N_LABELLED + 10)
    pid, ids = _start(ls, labelsieve_server.url, "ner issues", NER_CONFIG, [t for t, _ in data])
    planted: dict[int, str] = {}
    for k, (tid, (_, regions)) in enumerate(zip(ids[:N_LABELLED], data, strict=False)):
        labels = [r["value"]["labels"][0] for r in regions]
        if k % 7 == 0 and "LOC" in labels and len(planted) < 10:
            regions = [r for r in regions if r["value"]["labels"] != ["LOC"]]  # a missed city
            planted[tid] = "LOC"
        elif k % 7 == 3 and "PER" in labels and len(planted) < 10:
            regions = [{**r, "value": {**r["value"], "labels": ["LOC"]}} if r["value"]["labels"] == ["PER"] else r
                       for r in regions]  # a person tagged as a place
            planted[tid] = "PER"
        annotate_spans(ls, tid, regions)
    candidates, reviewed = _check_common(ls, labelsieve_server.url, pid, set(planted))
    for tid, row in reviewed.items():
        text = ls.api("GET", f"/api/tasks/{tid}").json()["data"]["text"]
        assert "model suggests B-" + planted[tid] in candidates[tid]["reason"]
        assert row["result"], "the suggested annotation has the entity"
        for region in row["result"]:
            value = region["value"]
            assert region["type"] == "labels" and region["from_name"] == "label"
            assert text[value["start"]:value["end"]] == value["text"]
        assert planted[tid] in {r["value"]["labels"][0] for r in row["result"]}
