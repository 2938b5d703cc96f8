"""mAP@0.5 and timings of the tiny detector with its 1024-wide box head (torchvision's default) against a 128-wide one.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/detector_head_width.py

2 seeds; 60 labelled generated shapes (64 px), 200 held out, 8 epochs / at least 60 steps; prints one JSON line per
fit. Results: benchmarks/results/boxes.md.
"""

from __future__ import annotations

import json
import time

import torch
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

from labelsieve.detection import networks
from labelsieve.detection.average_precision import mean_average_precision
from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.synthetic import make_shapes

WIDE = networks._tiny


def narrow(num_classes: int, image_size: int) -> FasterRCNN:
    """The tiny detector with a 128-wide box head."""
    model = WIDE(num_classes, image_size)
    model.roi_heads.box_head = TwoMLPHead(32 * 25, 128)
    model.roi_heads.box_predictor = FastRCNNPredictor(128, num_classes)
    return model


def main() -> None:
    torch.set_num_threads(1)
    for seed in (0, 1):
        data = make_shapes(260, size=64, seed=10 + seed)
        for width in (1024, 128):
            networks._tiny = WIDE if width == 1024 else narrow
            started = time.perf_counter()
            learner = DetectorLearner(epochs=8, min_steps=60, device="cpu", random_state=seed).fit(
                data.images[:60], data.targets[:60], classes=data.classes)
            fit = time.perf_counter() - started
            started = time.perf_counter()
            found = learner.predict(data.images[60:])
            infer = time.perf_counter() - started
            scores = mean_average_precision(data.targets[60:], found, data.classes)
            print(json.dumps({"seed": seed, "head": width, "fit_s": round(fit, 1), "infer200_s": round(infer, 2),
                              "map50": round(float(scores.map_50), 3),
                              "map50_95": round(float(scores.map_50_95), 3)}), flush=True)
    networks._tiny = WIDE


if __name__ == "__main__":
    main()
