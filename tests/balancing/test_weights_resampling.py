"""Class weights, long-tail losses, samplers, resamplers and the ``auto`` choice on known counts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from labelsieve.balancing import BalancingError, auto_method, prepare_training_set
from labelsieve.balancing.losses import LongTailLoss, effective_number_weights, inverse_frequency_weights
from labelsieve.balancing.prepare import AUTO_MIN_RATIO
from labelsieve.balancing.resampling import resample_indices, resample_vectors
from labelsieve.balancing.samplers import EpochSampler


def test_inverse_frequency_weights_match_n_over_k_n_c() -> None:
    weights = inverse_frequency_weights(np.array([100.0, 10.0, 0.0, 1.0]))
    # N = 111, K = 3 present classes: w_c = 111 / (3 n_c); the absent class gets 0
    assert weights == pytest.approx([0.37, 3.7, 0.0, 37.0])


def test_effective_number_weights_follow_cui_et_al() -> None:
    counts = np.array([1000.0, 10.0])
    weights = effective_number_weights(counts, beta=0.99)
    raw = (1 - 0.99) / (1 - 0.99 ** counts)  # 1/E_n with E_n = (1 - beta^n) / (1 - beta)
    assert weights == pytest.approx(raw * 2 / raw.sum())
    assert weights[1] / weights[0] == pytest.approx((1 - 0.99**1000) / (1 - 0.99**10))
    # beta -> 0 gives equal weights; beta -> 1 approaches inverse frequency
    assert effective_number_weights(counts, beta=0.0) == pytest.approx([1.0, 1.0])
    near_one = effective_number_weights(counts, beta=0.999999)
    assert near_one[1] / near_one[0] == pytest.approx(100.0, rel=0.01)
    with pytest.raises(ValueError, match="beta"):
        effective_number_weights(counts, beta=1.0)


def test_logit_adjusted_loss_penalises_head_class_predictions_more() -> None:
    counts = np.array([90.0, 10.0])
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    targets = torch.tensor([0, 1])
    plain = LongTailLoss(loss="ce", counts=counts)(logits, targets)
    adjusted = LongTailLoss(loss="logit_adjusted", counts=counts)(logits, targets)
    # CE(logits + log prior): the rare-class sample's loss grows, the head-class sample's shrinks
    assert adjusted[1] > plain[1] and adjusted[0] < plain[0]
    balanced = LongTailLoss(loss="balanced_softmax", counts=counts)(logits, targets)
    assert torch.allclose(adjusted, balanced)
    weighted = LongTailLoss(loss="weighted", counts=counts)(logits, targets)
    assert weighted[1] / plain[1] == pytest.approx(100 / (2 * 10))
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        LongTailLoss(loss="focal", counts=counts)


def test_random_over_and_under_sampling_equalise_counts() -> None:
    y = np.array(["a"] * 50 + ["b"] * 10 + ["c"] * 5)
    over = resample_indices(y, "random_over", rng=np.random.default_rng(0))
    assert Counter(y[over].tolist()) == {"a": 50, "b": 50, "c": 50}
    assert set(range(65)) <= set(over.tolist())  # over-sampling keeps every original row
    under = resample_indices(y, "random_under", rng=np.random.default_rng(0))
    assert Counter(y[under].tolist()) == {"a": 5, "b": 5, "c": 5}
    with pytest.raises(BalancingError, match="unknown index resampling"):
        resample_indices(y, "nearmiss", rng=np.random.default_rng(0))


def test_smote_samples_lie_on_segments_between_minority_neighbours() -> None:
    rng = np.random.default_rng(0)
    majority = rng.normal(0, 1, (40, 2))
    minority = np.array([[10.0, 10.0], [11.0, 10.0], [10.0, 11.0], [11.0, 11.0]])
    X = np.vstack([majority, minority])
    y = np.array(["maj"] * 40 + ["min"] * 4)
    X_res, y_res, info = resample_vectors(X, y, "smote", rng=np.random.default_rng(1))
    assert Counter(y_res.tolist()) == {"maj": 40, "min": 40}
    assert info["k_neighbors"] == 3  # capped at n_min - 1
    assert np.array_equal(X_res[:44], X)  # originals first
    new = X_res[44:]
    # every synthetic point is x_i + t (x_j - x_i) for two minority points: inside their square
    assert new.min() >= 10.0 - 1e-9 and new.max() <= 11.0 + 1e-9
    on_segment = []
    for point in new:
        on_segment.append(any(
            np.isclose(np.cross(b - a, point - a), 0, atol=1e-9) and np.dot(point - a, point - b) <= 1e-9
            for i, a in enumerate(minority) for b in minority[i + 1:]
        ))
    assert all(on_segment)


def test_adasyn_falls_back_to_smote_when_classes_do_not_touch() -> None:
    X = np.vstack([np.random.default_rng(0).normal(0, 0.1, (30, 2)), np.random.default_rng(1).normal(9, 0.1, (6, 2))])
    y = np.array(["a"] * 30 + ["b"] * 6)
    _, y_res, info = resample_vectors(X, y, "adasyn", rng=np.random.default_rng(0))
    assert Counter(y_res.tolist())["b"] == 30
    assert "fallback" in info and info["fallback"].startswith("smote")


def test_tiny_classes_are_left_alone_by_smote() -> None:
    X = np.arange(24, dtype=float).reshape(12, 2)
    y = np.array(["a"] * 10 + ["b"] + ["c"])
    _, y_res, info = resample_vectors(X, y, "smote", rng=np.random.default_rng(0))
    assert Counter(y_res.tolist()) == {"a": 10, "b": 1, "c": 1}
    assert info["skipped_tiny"] == ["b", "c"]


def test_auto_picks_by_imbalance_ratio_and_learner_kind() -> None:
    balanced = ["a"] * 20 + ["b"] * 10  # ratio 2 < 3
    skewed = ["a"] * 30 + ["b"] * 10  # ratio 3
    assert AUTO_MIN_RATIO == 3.0
    assert auto_method(balanced, "image") is None
    assert auto_method(skewed, "image") == "logit_adjusted"
    assert auto_method(skewed, "vector") == "class_weight"
    assert auto_method(skewed, "text") == "class_weight"
    ts = prepare_training_set(list(range(40)), skewed, method="auto", params={}, learner_name="vector",
                              rng=np.random.default_rng(0))
    assert ts.info["applied"] == ["class_weight"] and ts.info["auto_ratio"] == 3.0
    assert ts.sample_weight is not None and ts.sample_weight[-1] == pytest.approx(3 * ts.sample_weight[0])
    ts = prepare_training_set(list(range(40)), skewed, method="auto", params={}, learner_name="image",
                              rng=np.random.default_rng(0))
    assert ts.learner_overrides == {"loss": "logit_adjusted", "loss_tau": 1.5}  # README, Balancing: tau 1.5
    ts = prepare_training_set(list(range(40)), skewed, method="auto", params={"loss_tau": 1.0}, learner_name="image",
                              rng=np.random.default_rng(0))
    assert ts.learner_overrides["loss_tau"] == 1.0  # an explicit tau wins


def test_combined_methods_stack_and_torch_only_methods_are_refused_for_linear_learners() -> None:
    y = ["a"] * 30 + ["b"] * 6
    ts = prepare_training_set(list(range(36)), y, method="logit_adjusted+class_balanced_sampler+augment",
                              params={"augmenter": "noise"}, learner_name="image", rng=np.random.default_rng(0))
    assert ts.learner_overrides == {"loss": "logit_adjusted", "sampler": "class_balanced", "augmenter": "noise"}
    with pytest.raises(BalancingError, match="not a torch learner"):
        prepare_training_set(list(range(36)), y, method="logit_adjusted", params={}, learner_name="vector",
                             rng=np.random.default_rng(0))


def test_loss_weighted_sampler_draws_hard_examples_more_often() -> None:
    targets = np.zeros(100, dtype=np.int64)
    sampler = EpochSampler(sampler="loss_weighted", targets=targets, batch_size=50,
                           generator=torch.Generator().manual_seed(0))
    losses = torch.full((100,), 0.05)
    losses[:10] = 3.0  # ten hard examples
    for _ in range(5):
        sampler.update(torch.arange(100), losses)
    drawn = torch.cat([torch.cat(sampler.epoch()) for _ in range(20)])
    hard_share = float((drawn < 10).float().mean())
    assert hard_share > 0.35, f"hard examples are 10% of the data but only {hard_share:.0%} of the draws"
    balanced = EpochSampler(sampler="class_balanced", targets=np.array([0] * 90 + [1] * 10), batch_size=100,
                            generator=torch.Generator().manual_seed(0))
    draws = torch.cat([torch.cat(balanced.epoch()) for _ in range(20)])
    assert 0.4 < float((draws >= 90).float().mean()) < 0.6
