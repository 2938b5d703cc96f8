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

    def above(self, threshold: float) -> Detections:
        """The boxes whose score is at least ``threshold`` (what annotators see)."""
        keep = np.flatnonzero(self.scores >= threshold)
        return Detections(self.boxes[keep], [self.labels[i] for i in keep], self.scores[keep],
                          None if self.probs is None else self.probs[keep], self.candidate_background,
                          self.width, self.height)
