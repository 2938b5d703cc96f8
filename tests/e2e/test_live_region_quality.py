"""Label issues of multi-label and named-entity projects against a real Label Studio 1.23.2: a deliberately wrong
annotation is flagged, its review prediction reads back through Label Studio's API as a valid result for the config
(the missing label ticked; spans whose offsets reproduce the text), and the Data Manager tab lists the candidates."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.helpers import issues_tab, label_and_wait, prediction_rows, project, wait_issues
from tests.e2e.test_live_multilabel import CONFIG as MULTI_CONFIG
from tests.e2e.test_live_multilabel import WORDS, labels_result
from tests.e2e.test_live_ner import CONFIG as NER_CONFIG
from tests.e2e.test_live_ner import sentences
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
           results: list[list[dict]], more: dict | None = None) -> tuple[int, list[int], str]:
    """A project of ``texts``, the first ones annotated with ``results``: ``(project id, task ids, the served
    version)``."""
    pid = int(ls.api("POST", "/api/projects", json={"title": title, "label_config": config}).json()["id"])
    imported = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=[{"text": t} for t in texts])
    assert imported.status_code == 201, imported.text
    ids = [int(t) for t in imported.json()["task_ids"]]
    _, version = label_and_wait(ls, server_url, pid, config, _extra(more), dict(zip(ids, results, strict=False)))
    return pid, ids, version


def _check_common(ls: LabelStudioServer, server_url: str, pid: int, version: str,
                  planted: set[int]) -> tuple[dict, dict]:
    issues = wait_issues(server_url, pid, version, timeout=300)
    assert issues["summary"]["gate"]["shown"], issues["summary"]["gate"]
    candidates = {c["task_id"]: c for c in issues["candidates"]}
    found = set(candidates) & planted
    assert len(found) >= 0.5 * len(planted) and len(found) >= 0.6 * len(candidates), (sorted(candidates),
                                                                                      sorted(planted))
    review = issues["review_model_version"]
    reviewed = prediction_rows(ls, pid, review)
    assert set(reviewed) == set(candidates), "one review prediction per candidate"
    assert all(r.get("score") is None for r in reviewed.values())
    assert issues_tab(ls, pid, issues["review"]["view_id"]) == set(candidates)
    assert project(ls, pid)["model_version"] == version, "review predictions must not switch the served version"
    return candidates, {tid: reviewed[tid] for tid in found}


def test_multilabel_missing_label_is_flagged_and_reviewed_in_label_studio(label_studio, labelsieve_server) -> None:
    ls = label_studio
    data = items(N_LABELLED + 10)
    planted: dict[int, str] = {}  # position → the label the annotator forgot (one of two)
    results = []
    for k, (_, labels) in enumerate(data[:N_LABELLED]):
        given = list(labels)
        if len(labels) == 2 and len(planted) < 5 and k % 3 == 0:
            planted[k] = given.pop()
        results.append(labels_result(given))
    pid, ids, version = _start(ls, labelsieve_server.url, "multi-label issues", MULTI_CONFIG, [t for t, _ in data],
                               results, MULTI_LEARNER)
    planted = {ids[k]: label for k, label in planted.items()}
    candidates, reviewed = _check_common(ls, labelsieve_server.url, pid, version, set(planted))
    for tid, row in reviewed.items():
        assert f"'{planted[tid]}' likely missing" in candidates[tid]["reason"]
        (region,) = row["result"]
        assert region["from_name"] == "topics" and region["type"] == "choices"
        assert planted[tid] in region["value"]["choices"]


def test_ner_missed_and_mistyped_entities_are_flagged_with_exact_offsets(label_studio, labelsieve_server) -> None:
    ls = label_studio
    data = sentences(N_LABELLED + 10)
    planted: dict[int, str] = {}  # position → the entity type the annotation gets wrong
    results = []
    for k, (_, regions) in enumerate(data[:N_LABELLED]):
        labels = [r["value"]["labels"][0] for r in regions]
        if k % 7 == 0 and "LOC" in labels and len(planted) < 10:
            regions = [r for r in regions if r["value"]["labels"] != ["LOC"]]  # a missed city
            planted[k] = "LOC"
        elif k % 7 == 3 and "PER" in labels and len(planted) < 10:
            regions = [{**r, "value": {**r["value"], "labels": ["LOC"]}} if r["value"]["labels"] == ["PER"] else r
                       for r in regions]  # a person tagged as a place
            planted[k] = "PER"
        results.append(regions)
    pid, ids, version = _start(ls, labelsieve_server.url, "ner issues", NER_CONFIG, [t for t, _ in data], results)
    planted = {ids[k]: label for k, label in planted.items()}
    candidates, reviewed = _check_common(ls, labelsieve_server.url, pid, version, set(planted))
    for tid, row in reviewed.items():
        text = ls.api("GET", f"/api/tasks/{tid}").json()["data"]["text"]
        assert "model suggests B-" + planted[tid] in candidates[tid]["reason"]
        assert row["result"], "the suggested annotation has the entity"
        for region in row["result"]:
            value = region["value"]
            assert region["type"] == "labels" and region["from_name"] == "label"
            assert text[value["start"]:value["end"]] == value["text"]
        assert planted[tid] in {r["value"]["labels"][0] for r in row["result"]}
