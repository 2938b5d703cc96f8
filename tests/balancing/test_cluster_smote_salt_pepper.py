"""Cluster-based SMOTE (``kmeans_smote``) and the salt-and-pepper augmenter (``salt_pepper``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsieve.balancing import prepare_training_set
from labelsieve.balancing.base import Augmenter, BalancingError
from labelsieve.balancing.config import check_balancing
from labelsieve.balancing.resampling import resample_vectors
from labelsieve.learners.image import ImageLearner
from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import get_registry


def two_group_minority() -> tuple[np.ndarray, np.ndarray]:
    """A head class around the origin and a minority class made of two groups far left and far right of it."""
    rng = np.random.default_rng(0)
    head = rng.normal(0.0, 1.0, (200, 2))
    left, right = rng.normal((-8.0, 0.0), 0.5, (5, 2)), rng.normal((8.0, 0.0), 0.5, (5, 2))
    return np.vstack([head, left, right]), np.array(["head"] * 200 + ["rare"] * 10)


def test_kmeans_smote_puts_no_point_between_the_groups_of_a_minority_class() -> None:
    X, y = two_group_minority()
    X_res, y_res, info = resample_vectors(X, y, "kmeans_smote", rng=np.random.default_rng(0), k_neighbors=3,
                                          n_clusters=6)
    assert "fallback" not in info and info["n_clusters"] == 6
    new = X_res[len(X):]
    assert set(y_res[len(X):].tolist()) == {"rare"} and len(new) >= 150  # the minority grown towards the head
    assert float(np.abs(new[:, 0]).min()) > 5.0  # every new point stays in one of the two groups
    # plain SMOTE with neighbours across the groups interpolates through the head class
    X_smote, _, _ = resample_vectors(X, y, "smote", rng=np.random.default_rng(0), k_neighbors=9)
    assert float(np.abs(X_smote[len(X):, 0]).min()) < 5.0


def test_kmeans_smote_through_prepare_marks_synthetic_rows_and_falls_back_when_no_cluster_is_dense() -> None:
    X, y = two_group_minority()
    ts = prepare_training_set(X, y.tolist(), method="kmeans_smote", params={"k_neighbors": 3, "n_clusters": 6},
                              learner_name="vector", rng=np.random.default_rng(0))
    assert ts.info["applied"] == ["kmeans_smote"] and ts.synthetic_mask.sum() == len(ts.y) - len(y)
    assert VectorLearner().fit(ts.X, ts.y).predict(np.array([[8.0, 0.0]])) == ["rare"]
    # four rare points at four far corners: no cluster holds enough of them, so KMeansSMOTE gives up and SMOTE runs
    corners = np.array([[-20.0, -20.0], [-20.0, 20.0], [20.0, -20.0], [20.0, 20.0]])
    X_sparse, y_sparse = np.vstack([X[:200], corners]), np.array(["head"] * 200 + ["rare"] * 4)
    _, y_res, info = resample_vectors(X_sparse, y_sparse, "kmeans_smote", rng=np.random.default_rng(0), n_clusters=5)
    assert info["fallback"].startswith("smote") and (y_res == "rare").sum() == 200


def test_setup_refuses_bad_cluster_count_and_kmeans_smote_on_images() -> None:
    with pytest.raises(BalancingError, match="n_clusters"):
        check_balancing("kmeans_smote", {"n_clusters": 0}, learner_cls=VectorLearner, input_kind="vector")
    with pytest.raises(BalancingError, match="kmeans_smote"):
        check_balancing("kmeans_smote", {}, learner_cls=ImageLearner, input_kind="image")
    check_balancing("kmeans_smote", {"n_clusters": 4}, learner_cls=VectorLearner, input_kind="vector")


def test_salt_and_pepper_sets_about_amount_of_the_pixels_to_black_or_white() -> None:
    augmenter = get_registry("augmenters").create("salt_pepper", {"amount": 0.1})
    assert isinstance(augmenter, Augmenter)
    batch = torch.full((32, 3, 16, 16), 0.5)
    strength = torch.tensor([1.0] * 16 + [0.0] * 16)
    out = augmenter.transform(batch, strength, torch.Generator().manual_seed(0))
    hit = (out != 0.5).any(dim=1)  # (B, H, W): pixels changed in any channel
    assert torch.equal(out[16:], batch[16:])  # strength 0: untouched
    assert 0.07 < float(hit[:16].float().mean()) < 0.13
    changed = out[:16].permute(0, 2, 3, 1)[hit[:16]]  # (n, C): every channel of a hit pixel alike, 0 or 1
    assert bool(((changed == 0).all(dim=1) | (changed == 1).all(dim=1)).all())
    assert 0.3 < float((changed[:, 0] == 1).float().mean()) < 0.7


def test_setup_refuses_a_salt_and_pepper_amount_outside_zero_one() -> None:
    with pytest.raises(BalancingError, match="amount"):
        check_balancing("augment", {"augmenter": "salt_pepper", "augmenter_params": {"amount": 1.5}},
                        learner_cls=ImageLearner, input_kind="image")
