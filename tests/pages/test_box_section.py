"""The page section of a boxes project: prequential per-class AP (pycocotools) and the head of the queue drawn with
its predicted boxes, opened in a real headless Chromium; and the drawing and AP on known boxes."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget
from labelsieve.pages.boxsection import PALETTE, detections_of, draw_boxes, per_class_ap
from labelsieve.tasktypes.boxes import Boxes
from tests.detection.service_data import BOXES, DETECTOR, box_result, label_pool, train
from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary

PROJECT = 31
LABELS = ("square", "disc", "triangle", "cross")
PROBE = """(() => {
  const s = document.querySelector('section#boxes');
  if (!s) return null;
  const rows = [...s.querySelectorAll('table.box-ap tr')].filter(r => r.querySelector('td'));
  const diagnosis = document.querySelector('section#diagnosis');
  return {diagnosis: diagnosis ? diagnosis.innerText : '',
          maps: diagnosis ? diagnosis.querySelectorAll('img.plot').length : 0,
          text: s.innerText, rows: rows.map(r => [...r.cells].map(c => c.innerText)),
          images: [...s.querySelectorAll('figure.boxes img')].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
          shown: s.getBoundingClientRect().height};
})()"""


def test_drawn_thumbnail_carries_the_box_in_its_class_colour() -> None:
    image = Image.new("RGB", (64, 32), (0, 0, 0))
    found = Detections(np.array([[8, 8, 40, 24]], np.float32), ["disc"], np.array([0.8]), width=64, height=32)
    uri = draw_boxes(image, found, LABELS)
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))
    assert picture.shape[1] == 160 and picture.shape[0] == 80
    assert tuple(picture[40, 20]) == PALETTE[1], "the left edge of the disc box, at 2.5x"
    assert tuple(picture[40, 60]) == (0, 0, 0), "inside the box stays the image"


def test_per_class_ap_reads_stored_regions_back_to_pixels() -> None:
    truth = [ImageTarget(np.array([[4, 4, 20, 20], [30, 30, 60, 60]], np.float32), ["square", "disc"], 64, 64)]
    stored = box_result(truth[0])  # the regions exactly on the true boxes, as a ranking stores them
    for region, score in zip(stored, (0.9, 0.7), strict=True):
        region["score"] = score
    found = detections_of(stored, LABELS)
    np.testing.assert_allclose(found.boxes, truth[0].boxes, atol=1e-3)
    ap = per_class_ap([(truth[0], found)], LABELS)
    assert ap["per_class"]["square"][0] == pytest.approx(1.0) and ap["per_class"]["disc"][1] == 1
    assert np.isnan(ap["per_class"]["cross"][0]), "a class with no labelled box has no AP"
    missed = per_class_ap([(truth[0], detections_of(stored[:1], LABELS))], LABELS)
    assert missed["per_class"]["disc"][0] == pytest.approx(0.0) and missed["map_50"] == pytest.approx(0.5)
    assert per_class_ap([(ImageTarget.empty(64, 64), found)], LABELS) is None
    assert Boxes().parse_config(BOXES).labels == LABELS


@pytest.mark.slow
def test_browser_shows_per_class_ap_and_predicted_boxes(live_server, http, tmp_path) -> None:
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))
    extra = {"retrain_every": 1000, "preannotate_threshold": 0, "learner_params": DETECTOR}
    with live_server(start_workers=False) as (url, app), http(url) as client:
        pool, targets = train(client, PROJECT, extra, app=app)
        label_pool(client, app, PROJECT, pool, targets, 10)  # scored against the serving detector's boxes
        browser = Chromium().start()
        try:
            shot = tmp_path / "boxes-page.png"
            visit = browser.visit(f"{url}/projects/{PROJECT}/page", probe=PROBE, screenshot=shot)
        finally:
            browser.stop()
    assert visit.status == 200
    section = visit.dom
    assert section and "Prequential mAP@0.5" in section["text"] and "10 labelled image(s)" in section["text"], section
    assert [row[0] for row in section["rows"]] == list(LABELS)
    values = [float(row[1]) for row in section["rows"] if row[1] != "–"]
    assert values and all(0.0 <= v <= 1.0 for v in values)
    assert len(section["images"]) >= 3 and all(done and w == 160 for done, w, _ in section["images"]), section
    assert section["shown"] > 200 and shot.stat().st_size > 20_000
    assert "could not score" not in section["diagnosis"] and section["maps"] == 1, "the backbone features' map"
