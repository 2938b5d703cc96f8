"""What a detector predicts for one image, independent of the model that made it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detections:
    """Boxes of one image in pixels of the original image.

    ``probs`` (n, 1 + n_classes) is the softmax over background + classes of every kept box when the model gives it
    (labelsieve's own detector does); a foreign backend's stored predictions have ``scores`` only, and ``probs`` is
    then ``None``. ``candidate_background`` holds the background probability of the image's top candidate regions,
    kept or not: it decides the uncertainty of an image with no detection.
    """

    boxes: np.ndarray
    labels: list[str]
    scores: np.ndarray
    probs: np.ndarray | None = None
    candidate_background: np.ndarray = field(default_factory=lambda: np.zeros(0))
    width: int | None = None
    height: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def confidence(self) -> float:
        """How sure the detector is of the whole image, for the pre-annotation gate: the least sure of its decisions,
        each box's ``max(score, 1 - score)`` (shown or not, the box's class is a call) and, for an image with no
        box, the background probability of its most object-like candidate region (``1.0``: none at all)."""
        decisions = [max(float(s), 1.0 - float(s)) for s in self.scores]
        if not decisions and len(self.candidate_background):
            decisions.append(float(np.min(self.candidate_background)))
        return min(decisions, default=1.0)

    def above(self, threshold: float) -> Detections:
        """The boxes whose score is at least ``threshold`` (what annotators see)."""
        keep = np.flatnonzero(self.scores >= threshold)
        return Detections(self.boxes[keep], [self.labels[i] for i in keep], self.scores[keep],
                          None if self.probs is None else self.probs[keep], self.candidate_background,
                          self.width, self.height)
