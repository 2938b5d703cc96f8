"""Balancing changes what the image learner learns: minority recall on long-tailed digits, augmenters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsieve.balancing import prepare_training_set
from labelsieve.balancing.augment import minority_strength, mix_batch
from labelsieve.balancing.base import Augmenter
from labelsieve.registry import get_registry
from tests.balancing.conftest import long_tail

TAIL = ("7", "8", "9")
PARAMS = {"image_size": 8, "epochs": 15, "augment": None, "batch_size": 64}


def tail_recall(learner, images, labels) -> float:
    predicted = np.asarray(learner.classes_)[learner.predict_proba(list(images)).argmax(axis=1)]
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in TAIL]))


@pytest.mark.parametrize("method", ["logit_adjusted", "weighted_loss+class_balanced_sampler"])
def test_balancing_raises_minority_recall_on_a_10_to_1_long_tail(digits, method) -> None:
    images, labels = digits
    test = np.concatenate([np.flatnonzero(labels == c)[120:170] for c in sorted(set(labels))])
    plain, balanced = [], []
    for seed in (0, 1):
        train = long_tail(labels, seed=seed, head=60, tail=6, tail_classes=TAIL)
        X, y = list(images[train]), labels[train].tolist()
        for out, name in ((plain, None), (balanced, method)):
            ts = prepare_training_set(X, y, method=name, params={}, learner_name="image",
                                      rng=np.random.default_rng(seed))
            learner = get_registry("learners").create("image", {**PARAMS, "random_state": seed, **ts.learner_overrides})
            learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight)
            out.append(tail_recall(learner, images[test], labels[test]))
    assert np.mean(balanced) >= np.mean(plain) + 0.08, (plain, balanced)


@pytest.mark.parametrize("name", ["geometric", "shift", "colour", "noise", "salt_pepper", "randaugment",
                                  "trivialaugment"])
def test_registered_augmenters_keep_shape_and_range_and_change_images(name, digits) -> None:
    images, _ = digits
    batch = torch.from_numpy(images[:16]).float().div(255).unsqueeze(1).repeat(1, 3, 1, 1)
    augmenter = get_registry("augmenters").create(name, {})
    assert isinstance(augmenter, Augmenter)
    out = augmenter.transform(batch, torch.ones(16), torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    changed = (out - batch).abs().flatten(1).amax(dim=1) > 1e-3
    assert int(changed.sum()) >= 8, f"{name} changed only {int(changed.sum())} of 16 images at strength 1"
    untouched = augmenter.transform(batch, torch.zeros(16), torch.Generator().manual_seed(0))
    assert torch.equal(untouched, batch)


def test_minority_classes_get_augmented_more_often(digits) -> None:
    images, _ = digits
    targets = torch.tensor([0] * 180 + [1] * 20)
    strength = minority_strength(targets, np.array([180.0, 20.0]), base=0.2, minority_boost=0.6)
    assert strength[0] == pytest.approx(0.2) and strength[-1] == pytest.approx(0.2 + 0.6 * (1 - 20 / 180))
    batch = torch.from_numpy(images[:200]).float().div(255).unsqueeze(1).repeat(1, 3, 1, 1)
    out = get_registry("augmenters").create("noise", {}).transform(batch, strength, torch.Generator().manual_seed(0))
    changed = (out - batch).abs().flatten(1).amax(dim=1) > 1e-3
    assert float(changed[180:].float().mean()) > float(changed[:180].float().mean()) + 0.25


@pytest.mark.parametrize("mode", ["mixup", "cutmix"])
def test_batch_level_mixing_returns_soft_labels_that_sum_to_one(mode) -> None:
    torch.manual_seed(0)
    images = torch.rand(8, 3, 16, 16)
    targets = torch.arange(8) % 4
    mixed, soft = mix_batch(images, targets, 4, mode=mode)
    assert mixed.shape == images.shape and soft.shape == (8, 4)
    assert torch.allclose(soft.sum(dim=1), torch.ones(8))
    assert float(soft.max(dim=1).values.min()) < 1.0  # labels really are mixed
    with pytest.raises(ValueError, match="unknown batch mix"):
        mix_batch(images, targets, 4, mode="cutout")


def test_image_learner_trains_with_mixup_cutmix_and_an_augmenter(digits) -> None:
    images, labels = digits
    idx = np.arange(200)
    learner = get_registry("learners").create("image", {
        **PARAMS, "epochs": 4, "batch_mix": "mixup_cutmix", "augmenter": "trivialaugment", "loss": "effective_number",
        "sampler": "loss_weighted",
    })
    learner.fit(list(images[idx]), labels[idx].tolist())
    proba = learner.predict_proba(list(images[300:340]))
    assert proba.shape == (40, 10) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
