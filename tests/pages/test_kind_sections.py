"""The per-kind sections of the project page, opened in a real headless Chromium: multi-label projects show per-label
precision/recall/F1 and the pool's uncertainty histogram, named-entity projects per-entity-type F1 (seqeval) and the
histogram; each only on its own kind. The numbers are checked against the stored annotations, scored here."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from labelsieve.pages.kinds import kind_section, register_kind_section
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.tasktypes import task_type_for
from tests.api.test_multilabel import MULTI, _sets, _text
from tests.api.test_ner import NER, _sentence
from tests.factories import ls_task, predict_payload, project_dict, setup_payload
from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary
from tests.pages.helpers import wait_idle
from tests.spans.corpus import make_corpus

PROBE = """(() => {
  const out = {};
  for (const s of document.querySelectorAll('section')) {
    out[s.id] = {
      rows: [...s.querySelectorAll('table tr')].filter(r => r.querySelector('td')).map(r => [...r.cells].map(
        c => c.innerText.trim())),
      plots: [...s.querySelectorAll('img.plot')].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
      text: s.innerText,
    };
  }
  return out;
})()"""


@pytest.fixture(scope="module")
def browser():
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))
    chrome = Chromium().start()
    yield chrome
    chrome.stop()


def _annotate(client: Any, project: int, config: str, items: list[tuple[dict, list[dict]]], first_id: int) -> None:
    for k, (task, result) in enumerate(items):
        annotation = {"id": first_id + k, "result": result, "was_cancelled": False, "ground_truth": False,
                      "lead_time": 2.0, "task": task["id"], "project": project, "completed_by": 1}
        event = {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task,
                 "project": project_dict(project, config)}
        assert client.post("/webhook", json=event).status_code == 200


def _choices(labels: tuple[str, ...]) -> list[dict]:
    return [{"id": "r", "from_name": "topics", "to_name": "text", "type": "choices",
             "value": {"choices": list(labels)}}]


def _expected_per_label(app: Any, project: int, labels: list[str]) -> dict[str, tuple[float, float, float, int]]:
    """Precision, recall, F1 and support per label from the stored annotations and their stored predictions."""
    with session_scope(app.state.service.engine) as session:
        rows = [a for a in crud.list_annotations(session=session, project_id=project) if a.predicted_version]
    out = {}
    for label in labels:
        tp = sum(label in a.labels and label in a.predicted_labels for a in rows)
        fp = sum(label not in a.labels and label in a.predicted_labels for a in rows)
        fn = sum(label in a.labels and label not in a.predicted_labels for a in rows)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out[label] = (p, r, 2 * p * r / (p + r) if p + r else 0.0, tp + fn)
    return out


def _loaded(plots: list[list[object]]) -> bool:
    return len(plots) == 1 and all(done and width > 20 and height > 20 for done, width, height in plots)


@pytest.mark.slow
def test_multilabel_page_shows_per_label_f1_and_the_pool_uncertainty(browser, live_server, http, tmp_path) -> None:
    project, rng = 61, np.random.default_rng(0)
    extra = {"learner_params": {"embedding_model": None}, "batch_size": 10}
    with live_server(start_workers=False) as (url, app), http(url) as client:
        assert client.post("/setup", json=setup_payload(project, MULTI, extra)).status_code == 200
        pool_sets = _sets(60, seed=2)
        pool = [ls_task(2000 + k, {"text": _text(s, rng)}, project) for k, s in enumerate(pool_sets)]
        assert client.post("/predict", json=predict_payload(project, MULTI, pool)).status_code == 200
        first = [(ls_task(1000 + k, {"text": _text(s, rng)}, project), _choices(s)) for k, s in enumerate(_sets(30, 1))]
        _annotate(client, project, MULTI, first, 7000)
        wait_idle(app, project)
        # 25 pool tasks labelled while version 1 serves: each is scored against version 1's stored prediction
        noisy = [tuple(sorted({*s[:1], "food"})) if k % 4 == 0 else s for k, s in enumerate(pool_sets[:25])]
        _annotate(client, project, MULTI, [(t, _choices(s)) for t, s in zip(pool, noisy, strict=False)], 8000)
        wait_idle(app, project)
        expected = _expected_per_label(app, project, ["travel", "sport", "food"])
        shot = tmp_path / "multilabel-page.png"
        visit = browser.visit(f"{url}/projects/{project}/page", probe=PROBE, screenshot=shot)

    assert visit.status == 200
    section = visit.dom["kind-multi-label"]
    assert "kind-ner" not in visit.dom
    assert "Per-label F1" in section["text"] and "25 labelled tasks scored" in section["text"]
    shown = {row[0]: row for row in section["rows"]}
    assert set(shown) == {"travel", "sport", "food"}
    for label, (p, r, f1, support) in expected.items():
        assert [float(v) for v in shown[label][1:4]] == pytest.approx([p, r, f1], abs=6e-4), (label, shown[label])
        assert int(shown[label][4]) == support
    assert min(f for _, _, f, _ in expected.values()) < 1.0  # the flipped labels are scored as errors
    assert "uniform sample of 35 pool tasks" in section["text"] and _loaded(section["plots"])
    assert shot.stat().st_size > 20_000


@pytest.mark.slow
def test_ner_page_shows_per_entity_type_f1_and_the_pool_uncertainty(browser, live_server, http) -> None:
    project = 62
    extra = {"batch_size": 10}
    with live_server(start_workers=False) as (url, app), http(url) as client:
        assert client.post("/setup", json=setup_payload(project, NER, extra)).status_code == 200
        pool_sentences, pool_tags = make_corpus(40, seed=32)
        sentences = [_sentence(w, t) for w, t in zip(pool_sentences, pool_tags, strict=True)]
        pool = [ls_task(4000 + k, {"text": text}, project) for k, (text, _) in enumerate(sentences)]
        assert client.post("/predict", json=predict_payload(project, NER, pool)).status_code == 200
        train_words, train_tags = make_corpus(60, seed=31)
        first = [(ls_task(3000 + k, {"text": _sentence(w, t)[0]}, project), _sentence(w, t)[1])
                 for k, (w, t) in enumerate(zip(train_words, train_tags, strict=True))]
        _annotate(client, project, NER, first, 9000)
        wait_idle(app, project)
        _annotate(client, project, NER, [(pool[k], sentences[k][1]) for k in range(20)], 9500)
        wait_idle(app, project)
        with session_scope(app.state.service.engine) as session:
            scored = [a for a in crud.list_annotations(session=session, project_id=project) if a.predicted_version]
        visit = browser.visit(f"{url}/projects/{project}/page", probe=PROBE)

    assert visit.status == 200 and len(scored) == 20
    section = visit.dom["kind-ner"]
    assert "kind-multi-label" not in visit.dom
    assert "Per-entity-type F1" in section["text"] and "20 labelled sentences scored" in section["text"]
    shown = {row[0]: row for row in section["rows"]}
    assert set(shown) <= {"PER", "LOC"} and shown, section["rows"]
    true_counts = dict.fromkeys(("PER", "LOC"), 0)
    for annotation in scored:
        for region in annotation.result:
            true_counts[region["value"]["labels"][0]] += 1
    for label, row in shown.items():
        precision, recall, f1 = (float(v) for v in row[1:4])
        assert int(row[4]) == true_counts[label]  # seqeval's support: the true entities of that type
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall) if precision + recall else 0.0,
                                   abs=2e-3)
    assert "uniform sample of 20 pool tasks" in section["text"] and _loaded(section["plots"])


def test_a_kind_section_comes_from_a_registered_provider_or_the_task_types_method() -> None:
    """Single-label has none; a provider registered by name wins; a type's page_section method is the fallback."""
    single = task_type_for('<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/>'
                           '<Choice value="b"/></Choices></View>')
    project = SimpleNamespace(id=5, label_config="x")
    service = SimpleNamespace(loop=SimpleNamespace(served=lambda _config: single))
    assert kind_section(service, project) is None

    class WithSection(type(single.task_type)):  # type: ignore[misc]
        name = "with_section"

        def page_section(self, facts: Any) -> Any:
            from labelsieve.pages.kinds import KindSection

            return KindSection("Mine", f"<p>{len(facts.scored)} scored</p>")

    served = SimpleNamespace(name="with_section", task_type=WithSection(), config=single.config)
    service = SimpleNamespace(loop=SimpleNamespace(served=lambda _config: served, serving_model=lambda _p: None),
                              engine=None)
    from labelsieve.pages import kinds

    original = kinds.scored_annotations
    kinds.scored_annotations = lambda _service, _project: []  # no database in this unit test
    try:
        anchor, found = kind_section(service, project)
        assert (anchor, found.title, found.body) == ("kind-with-section", "Mine", "<p>0 scored</p>")
        register_kind_section("with_section", lambda *_: kinds.KindSection("Registered", "<p>r</p>"))
        assert kind_section(service, project)[1].title == "Registered"
    finally:
        kinds.scored_annotations = original
        kinds._providers.pop("with_section", None)
