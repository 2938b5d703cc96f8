from __future__ import annotations

import pytest

from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.synthetic import DetectionDataset, make_shapes


@pytest.fixture(scope="session")
def shapes() -> DetectionDataset:
    return make_shapes(24, size=64, seed=3)


@pytest.fixture(scope="session")
def quick_detector(shapes: DetectionDataset) -> DetectorLearner:
    """A detector trained for a few steps: enough to exercise shapes, save/load and the task type, not quality."""
    return DetectorLearner(epochs=1, min_steps=12, device="cpu").fit(shapes.images, shapes.targets,
                                                                    classes=shapes.classes)
