"""Named entities against a real Label Studio 1.23.2: a ``<Labels>`` on ``<Text>`` project gets its queue head pushed
with a score on every span (the gate off, so spans are pre-annotated), ``/next`` serves labelsieve's ranking, the
predictions read back through Label Studio's API reproduce their text (``text[start:end] == value.text``, with
accents, double spaces and an emoji before the entity), and headless Chromium shows the predicted span in the
labelling editor (the screenshot is saved)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.editor import editor_shot
from tests.e2e.helpers import label_and_wait, prediction_rows, submit
from tests.e2e.test_live_queue import next_id, ranking
from tests.spans.corpus import make_corpus

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

CONFIG = """<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>
<Text name="text" value="$text"/></View>"""
DEPTH = 20
EXTRA = {"strategy": "task_uncertainty", "min_annotations": 15, "retrain_every": 100000, "queue_depth": DEPTH,
         "preannotate_threshold": 0}
PREFIXES = ["", "🎉 ", "Olá!  ", "ça va —  "]


def sentences(n: int) -> list[tuple[str, list[dict]]]:
    """(text, gold span regions): words joined by one or two spaces, some texts opening with an emoji or accents."""
    out = []
    for k, (words, tags) in enumerate(zip(*make_corpus(n, seed=41), strict=True)):
        prefix, glue = PREFIXES[k % len(PREFIXES)], "  " if k % 3 == 0 else " "
        starts, position = [], len(prefix)
        for word in words:
            starts.append(position)
            position += len(word) + len(glue)
        text = prefix + glue.join(words)
        regions = []
        for i, tag in enumerate(tags):
            if tag.startswith("B-"):
                j = i
                while j + 1 < len(tags) and tags[j + 1].startswith("I-"):
                    j += 1
                s, e = starts[i], starts[j] + len(words[j])
                regions.append({"from_name": "label", "to_name": "text", "type": "labels",
                                "value": {"start": s, "end": e, "text": text[s:e], "labels": [tag[2:]]}})
        out.append((text, regions))
    return out


PROBE = """new Promise(resolve => {
  const deadline = Date.now() + 60000;
  const look = () => {
    const docs = [document, ...[...document.querySelectorAll('iframe')].map(f => {
      try { return f.contentDocument; } catch (e) { return null; } }).filter(Boolean)];
    // the editor wraps each text region in <span class="htx-highlight ...">
    const spans = docs.flatMap(d => [...d.querySelectorAll('span[class*="htx-highlight"]')])
      .map(s => s.textContent).filter(t => t && t.trim());
    if (spans.length || Date.now() > deadline) { resolve({spans, title: document.title}); }
    else { setTimeout(look, 500); }
  };
  look();
})"""


def test_ner_head_spans_offsets_next_order_and_editor(label_studio, labelsieve_server, tmp_path) -> None:
    ls, server = label_studio, labelsieve_server
    data = sentences(120)
    pid = int(ls.api("POST", "/api/projects", json={"title": "ner", "label_config": CONFIG}).json()["id"])
    imported = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=[{"text": t} for t, _ in data])
    assert imported.status_code == 201, imported.text
    truth = {int(tid): item for tid, item in zip(imported.json()["task_ids"], data, strict=True)}
    first = list(truth)[:15]
    _, version = label_and_wait(ls, server.url, pid, CONFIG, EXTRA, {tid: truth[tid][1] for tid in first})
    order = [t for t in ranking(server, pid, version) if t not in set(first)]

    rows = prediction_rows(ls, pid, version)
    assert set(rows) == set(order[:DEPTH]), "the head of labelsieve's ranking is pushed"
    assert sorted(rows, key=lambda t: rows[t]["score"]) == order[:DEPTH], "scores encode labelsieve's rank"
    spans = 0
    for tid, row in rows.items():
        text = ls.api("GET", f"/api/tasks/{tid}").json()["data"]["text"]  # the text as Label Studio holds it
        for region in row["result"]:
            value = region["value"]
            assert region["type"] == "labels" and 0 < region["score"] <= 1, region
            assert text[value["start"]:value["end"]] == value["text"], (text, value)
            assert value["labels"][0] in ("PER", "LOC")
            spans += 1
    assert spans, "with the gate off the predicted spans are pre-annotated"

    shown = next(t for t in order[:DEPTH] if rows[t]["result"] and re.search(r"[^\x00-\x7f]", truth[t][0]))
    shot = tmp_path / "ner-editor.png"
    seen = editor_shot(ls, pid, shown, shot, PROBE)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    predicted = {r["value"]["text"] for r in rows[shown]["result"]}
    assert predicted & {s.strip() for s in seen.get("spans", [])}, (predicted, seen)

    for expected in order[:3]:  # Label Studio's label stream follows labelsieve's ranking
        served = next_id(ls, pid)
        assert served == expected, f"served {served}, labelsieve's next is {expected}"
        submit(ls, served, truth[served][1])
