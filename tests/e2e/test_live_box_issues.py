"""Label issues of boxes against a real Label Studio 1.23.2 (cleanlab object detection: swapped class, bad location,
overlooked object).

A two-class ``<RectangleLabels>`` project of generated shapes PNGs (served through local-files storage) is annotated
through Label Studio's API, a few annotations deliberately wrong: a box with the other class, a box shifted off its
object, a box left out. After the detector trains, the background quality pass cross-fits it and the flagged tasks
come back like every other task type's label issues: review predictions (the out-of-fold boxes, in percent) under
their own model version that never becomes the served one, a Data Manager tab listing exactly the candidates, and the
project page's label-issue section with the reason. The flagged tasks are mostly the planted ones (a rate against
chance: which ones are flagged depends on the folds, a hash of Label Studio's task ids)."""

from __future__ import annotations

import copy

import httpx
import numpy as np
import pytest

from labelsieve.detection.coords import percent_to_pixels
from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.targets import ImageTarget
from tests.detection.service_data import box_result
from tests.e2e.helpers import image_project, issues_tab, label_and_wait, prediction_rows, project, wait_issues
from tests.harness.labelstudio import LabelStudioServer

#: one retrain and five cross-fitted detectors (200 steps each) on two CPU cores: 22 minutes at load 11-18 (the
#: cross-fit alone took over 15 of them); the waits are sized for that, and cost nothing on a quiet machine
pytestmark = [pytest.mark.labelstudio, pytest.mark.slow, pytest.mark.timeout(3600)]

LABELS = ("square", "disc")
CONFIG = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
          '<Label value="square"/><Label value="disc"/></RectangleLabels></View>')
N = 40
#: unlabelled images beside the labelled ones: with none, the ranking is empty, no head is pushed and Label Studio's
#: project never switches to a labelsieve version (a project with nothing left to label has no queue)
POOL = 8
#: the gate needs 20 boxes of the rarer class and an out-of-fold mAP@0.5 of 0.5: 40 images of two classes and a
#: detector trained 100 steps per fold reached only 0.54 (too close to the level for a test); the detector is
#: limited by image passes (results/detection.md, "detector recipe"): at 200 steps per fold it reached 0.82
DETECTOR = {"epochs": 20, "min_steps": 200, "device": "cpu"}
EXTRA = {"min_annotations": N, "retrain_every": 100000, "queue_depth": 5, "learner_params": DETECTOR}


def two_class_shapes(n: int, seed: int) -> tuple[list, list[ImageTarget]]:
    """``n`` 64×64 images holding one to three squares and discs only."""
    data = make_shapes(6 * n, size=64, seed=seed, rare_fraction=0.0, empty_fraction=0.0)
    keep = [i for i, t in enumerate(data.targets) if set(t.labels) <= set(LABELS)][:n]
    assert len(keep) == n
    return [data.images[i] for i in keep], [data.targets[i] for i in keep]


def plant(targets: list[ImageTarget]) -> tuple[list[ImageTarget], dict[int, str]]:
    """Copies of ``targets`` with six deliberate mistakes on images of two or more boxes; position → kind."""
    given = copy.deepcopy(targets)
    planted: dict[int, str] = {}
    several = [i for i, t in enumerate(given) if len(t) >= 2 and i < N]
    for j, i in enumerate(several[:6]):
        target = given[i]
        if j % 3 == 0:  # the other class on the first box
            target.labels[0] = LABELS[1 - LABELS.index(target.labels[0])]
            planted[i] = "swap"
        elif j % 3 == 1:  # the first box moved by 80 % of its width, off its object, still inside the image
            x1, _, x2, _ = (float(v) for v in target.boxes[0])
            shift = 0.8 * (x2 - x1)
            shift = shift if x2 + shift <= 64 else -min(shift, x1)
            target.boxes[0] = target.boxes[0] + np.array([shift, 0, shift, 0], dtype=np.float32)
            planted[i] = "badloc"
        else:  # the first box left out
            given[i] = ImageTarget(target.boxes[1:], target.labels[1:], target.width, target.height)
            planted[i] = "overlooked"
    return given, planted


def shapes_project(ls: LabelStudioServer, images: list) -> tuple[int, list[int]]:
    """A project of ``images`` from a Local Storage sync: its id, and the task ids in image order."""
    return image_project(ls, "box-issues", "box issues", CONFIG, images)


def test_swapped_shifted_and_missing_boxes_are_flagged_and_reviewed_in_label_studio(
        label_studio, labelsieve_server) -> None:
    ls, server = label_studio, labelsieve_server
    images, truth = two_class_shapes(N + POOL, seed=11)
    given, planted_at = plant(truth)
    pid, ids = shapes_project(ls, images)
    _, version = label_and_wait(ls, server.url, pid, CONFIG, EXTRA,
                                {tid: box_result(target) for tid, target in zip(ids[:N], given[:N], strict=True)},
                                timeout=900)
    planted = {ids[i]: kind for i, kind in planted_at.items()}
    issues = wait_issues(server.url, pid, version, timeout=2400)

    gate = issues["summary"]["gate"]
    print(f"gate margin: out-of-fold mAP@0.5 {gate['value']:.3f} against a level of {gate['level']:.2f}")
    assert gate["shown"] and gate["measure"] == "out-of-fold mAP@0.5", gate
    candidates = {c["task_id"]: c for c in issues["candidates"]}
    found = set(candidates) & set(planted)
    chance = len(planted) / N
    assert len(found) >= 2 and len(found) / len(candidates) >= max(0.5, 3 * chance), \
        (sorted(candidates), planted)
    words = {"swap": "swapped class?", "badloc": "bad location", "overlooked": "overlooked"}
    for tid in found:
        assert candidates[tid]["reason"], candidates[tid]
    assert any(words[planted[tid]] in candidates[tid]["reason"] for tid in found), \
        [(planted[t], candidates[t]["reason"]) for t in found]

    review = issues["review_model_version"]
    assert review.startswith("labelsieve-review-") and review != version
    reviewed = prediction_rows(ls, pid, review)
    assert set(reviewed) == set(candidates), "one review prediction per candidate, on labelled tasks only"
    for row in reviewed.values():
        assert row.get("score") is None, "a review score would read as confidence in the suggested boxes"
        for region in row["result"]:  # the out-of-fold boxes, a valid result of the config, in percent
            assert region["type"] == "rectanglelabels" and region["from_name"] == "box" and region["to_name"] == "img"
            assert (region["original_width"], region["original_height"]) == (64, 64)
            box = percent_to_pixels(region, LABELS).as_array()
            assert (box >= -0.5).all() and (box <= 64.5).all(), region
    moved = [tid for tid in found if planted[tid] == "badloc" and reviewed[tid]["result"]]
    for tid in moved:  # the suggestion puts a box back on the object the annotation missed
        i = ids.index(tid)
        suggested = np.array([percent_to_pixels(r, LABELS).as_array() for r in reviewed[tid]["result"]])
        centre = truth[i].boxes[0].reshape(2, 2).mean(axis=0)
        inside = ((suggested[:, 0] <= centre[0]) & (centre[0] <= suggested[:, 2])
                  & (suggested[:, 1] <= centre[1]) & (centre[1] <= suggested[:, 3]))
        assert inside.any(), (tid, suggested, truth[i].boxes[0])

    assert issues_tab(ls, pid, issues["review"]["view_id"]) == set(candidates), \
        "the Data Manager tab lists exactly the candidates"
    assert project(ls, pid)["model_version"] == version, "review predictions must not switch the served version"

    page = httpx.get(f"{server.url}/projects/{pid}/page", timeout=120)
    assert page.status_code == 200 and "<th>why</th>" in page.text
    assert any(words[planted[tid]] in page.text for tid in found), "the page lists why a box looks wrong"
