"""MC-dropout committee disagreement of the box head (``mc_dropout_boxes``), and a round that passes each image
through the detector once: counted at the backbone's forward hook, not timed. The conformance kit's ``boxes``
context runs it in tests/strategies/test_conformance.py (every registered strategy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelsieve.detection.dropout import SEED_BLOCK, HeadSamples, image_disagreement, region_disagreement
from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.prediction import Detections
from labelsieve.detection.synthetic import DetectionDataset, make_shapes
from labelsieve.detection.uncertainty import pool_uncertainty
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.boxes import McDropoutBoxes
from labelsieve.strategies.task_uncertainty import TaskUncertainty

BOX = np.array([[4.0, 4.0, 20.0, 20.0]])


def committee(passes: list[list[float]], boxes: list[list[float]] | None = None) -> HeadSamples:
    """One detection whose passes give the class distributions ``passes`` and the boxes ``boxes``."""
    probs = np.array(passes)[:, None, :]
    moved = np.array(boxes if boxes is not None else [BOX[0].tolist()] * len(passes))[:, None, :]
    return HeadSamples(probs, moved, BOX.copy(), np.array([True]))


def detections(mean: np.ndarray) -> Detections:
    return Detections(BOX.astype(np.float32), ["a"], np.array([float(mean[1:].max())]), mean[None, :],
                      np.array([float(mean[0])]), 32, 32)


AGREE = committee([[0.4, 0.3, 0.3]] * 6)  # every pass equally unsure: high entropy, no disagreement
SPLIT = committee([[0.0, 0.95, 0.05], [0.0, 0.05, 0.95]] * 3)  # each pass sure, of different classes


class SampledDetector:
    """A detector double: pool item i has the committee ``committees[i]`` and the mean distribution as detections."""

    classes_ = ["a", "b"]

    def __init__(self, committees: list[HeadSamples]) -> None:
        self.committees = committees

    def predict_regions(self, items: list[Any]) -> list[Detections]:
        return [detections(self.committees[int(i)].probs.mean(axis=0)[0]) for i in items]

    def dropout_samples(self, items: list[Any], *, passes: int, rate: float, seed: int) -> list[HeadSamples]:
        return [self.committees[int(i)] for i in items]


def test_a_disagreeing_committee_ranks_above_an_agreeing_unsure_one() -> None:
    assert region_disagreement(AGREE.probs, AGREE.boxes, AGREE.reference)[0] == pytest.approx(0.0, abs=1e-9)
    assert image_disagreement(SPLIT) == pytest.approx((np.log(2) - 0.1985152) / np.log(3) / 2, abs=1e-4)
    learner = SampledDetector([AGREE, SPLIT, AGREE])
    ctx = PoolContext(pool=[0, 1, 2], learner=learner, rng=np.random.default_rng(0), task_type="boxes",
                      task_uncertainty=pool_uncertainty(learner.predict_regions([0, 1, 2])))
    assert McDropoutBoxes().select(ctx, 1).tolist() == [1]
    assert TaskUncertainty().select(ctx, 1).tolist() != [1], "entropy of the mean prefers the agreeing unsure box"


def test_boxes_that_move_between_passes_disagree_and_empty_images_use_their_candidates() -> None:
    still = committee([[0.1, 0.9, 0.0]] * 4)
    moving = committee([[0.1, 0.9, 0.0]] * 4, [[4, 4, 20, 20], [10, 4, 26, 20], [4, 10, 20, 26], [4, 4, 20, 20]])
    assert image_disagreement(moving) > image_disagreement(still) + 0.1
    two = HeadSamples(np.concatenate([SPLIT.probs, SPLIT.probs], axis=1), np.concatenate([SPLIT.boxes] * 2, axis=1),
                      np.concatenate([BOX, BOX]), np.array([True, True]))
    assert image_disagreement(two) == pytest.approx(2 * image_disagreement(SPLIT)), "an image sums its boxes"
    candidates = HeadSamples(two.probs, two.boxes, two.reference, np.array([False, False]))
    assert image_disagreement(candidates) == pytest.approx(image_disagreement(SPLIT)), "no box: most disputed"


class Counter:
    """Images through the detector's backbone, and calls of its box head and predictor (forward hooks)."""

    def __init__(self, learner: DetectorLearner) -> None:
        self.images = self.heads = self.predictors = 0
        model = learner.model_
        self.handles = [model.backbone.register_forward_hook(self._backbone),
                        model.roi_heads.box_head.register_forward_hook(self._head),
                        model.roi_heads.box_predictor.register_forward_hook(self._predictor)]

    def _backbone(self, _module: Any, inputs: tuple[Any, ...], _output: Any) -> None:
        self.images += int(inputs[0].shape[0])

    def _head(self, *_: Any) -> None:
        self.heads += 1

    def _predictor(self, *_: Any) -> None:
        self.predictors += 1

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def test_dropout_passes_reuse_one_backbone_pass_and_change_with_the_rate(quick_detector: DetectorLearner,
                                                                        shapes: DetectionDataset) -> None:
    pool = shapes.images[:18]  # two inference batches
    counter = Counter(quick_detector)
    try:
        samples = quick_detector.dropout_samples(pool, passes=5, rate=0.3, seed=1)
    finally:
        counter.close()
    assert (counter.images, counter.heads, counter.predictors) == (18, 2, 2 * (1 + 5)), \
        "backbone and head once per image, the predictor once plus 5 dropout passes per batch"
    plain = quick_detector.infer(pool)[0]
    for s, found in zip(samples, plain, strict=True):
        assert s.probs.shape[0] == 5 and int(s.kept.sum()) == len(found)
        np.testing.assert_allclose(s.reference[s.kept], found.boxes * 1.0, atol=1e-3)  # 64 px: no rescale
    strong = np.array([image_disagreement(s) for s in samples])
    faint = np.array([image_disagreement(s) for s in quick_detector.dropout_samples(pool, passes=5, rate=1e-4,
                                                                                    seed=1)])
    assert np.all(strong >= 0) and np.all(strong > faint), "a committee that drops more features disagrees more"
    assert faint.max() < 0.01 < strong.min()
    again = np.array([image_disagreement(s) for s in quick_detector.dropout_samples(pool, passes=5, rate=0.3,
                                                                                   seed=1)])
    np.testing.assert_allclose(again, strong, atol=1e-6)


def test_the_ranking_pass_gives_the_strategy_the_scores_its_own_pass_would_give(
        quick_detector: DetectorLearner) -> None:
    """The fused pass (boxes, embeddings and dropout scores at once) against the strategy's separate pass for the
    same round seed, over more than one seeded block of the dropout stream; then the strategy reads the fused
    scores without running the detector again."""
    pool = make_shapes(SEED_BLOCK + 6, size=64, seed=8).images
    strategy = McDropoutBoxes(passes=4, rate=0.3)
    found, embeddings, fused = quick_detector.infer_with_dropout(pool, **strategy.dropout_request(7))
    plain, plain_embeddings = quick_detector.infer(pool)
    np.testing.assert_allclose(embeddings, plain_embeddings, rtol=1e-5, atol=1e-6)
    assert [len(f) for f in found] == [len(p) for p in plain], "dropout leaves the detections as they are"

    def context(given: object = None) -> PoolContext:
        return PoolContext(pool=pool, learner=quick_detector, rng=np.random.default_rng(7), task_type="boxes",
                           pool_dropout=given)

    separate = strategy.score(context())
    assert fused.scores.shape == (len(pool),) and np.ptp(separate) > 0.01
    np.testing.assert_allclose(fused.scores, separate, rtol=1e-4, atol=1e-6)
    counter = Counter(quick_detector)
    try:
        read = strategy.score(context(fused))
        other_seed = McDropoutBoxes(passes=4, rate=0.3).score(
            PoolContext(pool=pool[:20], learner=quick_detector, rng=np.random.default_rng(8), task_type="boxes",
                        pool_dropout=fused))
    finally:
        counter.close()
    np.testing.assert_array_equal(read, fused.scores)
    assert counter.images == 20 and len(other_seed) == 20, "scores drawn for another seed or pool are not reused"


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="passes"):
        McDropoutBoxes(passes=1).check()
    with pytest.raises(ValueError, match="rate"):
        McDropoutBoxes(rate=1.0).check()


@pytest.mark.parametrize(("strategy", "per_image"), [("sum", 1), ("rare_class_boxes", 1),
                                                     ("flip_consistency", 2), ("mc_dropout_boxes", 1)])
def test_a_round_runs_each_image_through_the_detector_once_per_pass(
        strategy: str, per_image: int, quick_detector: DetectorLearner, shapes: DetectionDataset,
        tmp_path: Path) -> None:
    """Ranking, the strategy and the stop set's predictions: the stop set is served from the ranking pass."""
    from labelsieve.registry import get_registries
    from labelsieve.service.pool_inputs import PoolInputs
    from labelsieve.service.project_settings import ProjectSettings
    from labelsieve.service.ranking import rank_pool
    from labelsieve.service.stopping import stop_set_record
    from labelsieve.storage.db import make_engine, session_scope
    from labelsieve.tasktypes.boxes import Boxes
    from tests.detection.service_data import BOXES

    pool = PoolInputs(ids=np.arange(100, 110), inputs=list(shapes.images[:10]))
    labeled = PoolInputs(ids=np.arange(1, 5), inputs=list(shapes.images[10:14]))
    settings = ProjectSettings(strategy="task_uncertainty" if strategy == "sum" else strategy, batch_size=3,
                               stop_set_size=6)
    counter = Counter(quick_detector)
    try:
        round_row, ranking = rank_pool(
            project_id=1, version="v1", learner=quick_detector, pool=pool, labeled_inputs=labeled.inputs,
            labeled_y=list(shapes.targets[10:14]), settings=settings, registries=get_registries(), seed=0,
            task_type=Boxes(), config=Boxes().parse_config(BOXES))
        with session_scope(make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")) as session:
            record = stop_set_record(session=session, project_id=1, learner=quick_detector, pool=pool,
                                     labeled=labeled, ps=settings)
    finally:
        counter.close()
    assert round_row.strategy == settings.strategy, "no fallback"
    assert record is not None and len(record["ids"]) == 6
    assert counter.images == per_image * 10, f"{strategy}: {counter.images} images through the backbone"

