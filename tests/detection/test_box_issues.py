"""cleanlab's object-detection scores mapped back onto the boxes a reviewer is shown: an overlooked box is named by its
own class and place even when the detector lists it before boxes of an earlier class (cleanlab scores predicted boxes
in class-block order, the detector lists them by score)."""

from __future__ import annotations

import numpy as np

from labelsieve.detection.issues import find_box_issues
from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget
from labelsieve.tasktypes.boxes import BOX_THRESHOLD, box_reason

CLASSES = ("square", "disc")
SQUARE = [4.0, 4.0, 20.0, 20.0]
DISC = [40.0, 36.0, 58.0, 54.0]


def test_an_overlooked_box_listed_first_is_named_with_its_own_class_and_place() -> None:
    drawn = ImageTarget(np.array([SQUARE], dtype=np.float32), ["square"], 64, 64)  # nobody drew the disc
    found = Detections(np.array([DISC, SQUARE], dtype=np.float32), ["disc", "square"], np.array([0.97, 0.95]),
                       width=64, height=64)
    issues = find_box_issues([drawn], [found], CLASSES, box_threshold=BOX_THRESHOLD)
    overlooked = issues.per_box[0]["overlooked"]
    assert overlooked.shape == (2,)
    assert overlooked[0] < BOX_THRESHOLD <= overlooked[1], "the disc (listed first) is the overlooked box"
    assert issues.flagged[0]
    reason = box_reason(drawn, found, issues.per_box[0])
    assert "overlooked 'disc' at [40,36,58,54] px" in reason and "overlooked 'square'" not in reason, reason


def test_a_box_of_a_class_the_config_lacks_is_never_called_overlooked() -> None:
    drawn = ImageTarget(np.array([SQUARE], dtype=np.float32), ["square"], 64, 64)
    found = Detections(np.array([DISC, SQUARE], dtype=np.float32), ["star", "square"], np.array([0.97, 0.95]),
                       width=64, height=64)
    issues = find_box_issues([drawn], [found], CLASSES, box_threshold=BOX_THRESHOLD)
    assert issues.per_box[0]["overlooked"].tolist()[0] == 1.0
    assert "overlooked" not in box_reason(drawn, found, issues.per_box[0])
