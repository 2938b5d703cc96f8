"""Object detection for the boxes task type: Label Studio rectangles <-> pixels, targets, a torchvision detector
trained in the loop, per-box uncertainty and its aggregation, mAP (pycocotools), label issues (cleanlab), readers
(COCO, Label Studio exports) and a generated data set. See docs/object-detection.md."""
