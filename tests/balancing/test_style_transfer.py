"""The style_transfer augmenter: discovered, conformant, a trained translator moves a minority image's colours
toward the other domain, /setup-level refusal without two domains, and a failed training leaves the round on the
real items with the reason in its status."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsieve.balancing import BalancingError, prepare_training_set
from labelsieve.balancing.base import Augmenter, balancing_summary
from labelsieve.balancing.config import check_balancing
from labelsieve.balancing.style import StyleTransferAugmenter
from labelsieve.registry import get_registry

TINY = {"domain_field": "site", "image_size": 16, "width": 8, "train_steps": 300, "batch_size": 16}
DAY, NIGHT = np.array([200.0, 190.0, 150.0]), np.array([40.0, 50.0, 110.0])


def two_domains(seed: int = 0, n_major: int = 24, n_minor: int = 6) -> tuple[list[np.ndarray], list[str], list[str]]:
    """16x16 RGB images: class "bar" a horizontal bar, "post" (minority) a vertical one; domain "day" bright and
    warm, "night" dark and blue."""
    rng = np.random.default_rng(seed)
    images, labels, sites = [], [], []
    for label, n in (("bar", n_major), ("post", n_minor)):
        for i in range(n):
            site = "day" if i % 2 == 0 else "night"
            base = DAY if site == "day" else NIGHT
            image = np.clip(base + rng.normal(0, 8, (16, 16, 3)), 0, 255)
            k = int(rng.integers(4, 12))
            if label == "bar":
                image[k:k + 3, 2:14] = 255 - base
            else:
                image[2:14, k:k + 3] = 255 - base
            images.append(image.astype(np.uint8))
            labels.append(label)
            sites.append(site)
    return images, labels, sites


def test_style_transfer_is_discovered_and_conforms_to_the_augmenter_contract() -> None:
    registry = get_registry("augmenters")
    assert "style_transfer" in registry.names()
    augmenter = registry.create("style_transfer", TINY)
    assert isinstance(augmenter, StyleTransferAugmenter) and isinstance(augmenter, Augmenter)
    assert type(augmenter)(**augmenter.get_params()).get_params() == augmenter.get_params()
    augmenter.check()
    for bad in ({"image_size": 6}, {"channels": 2}, {"train_steps": 0}, {"lr": 2.0}, {"device": "tpu"},
                {"domain_field": ""}):
        with pytest.raises(BalancingError):
            registry.create("style_transfer", {**TINY, **bad}).check()
    with pytest.raises(BalancingError, match="fitted"):  # a batch transform needs the two domains learned first
        augmenter.transform(torch.rand(2, 3, 16, 16), torch.ones(2), torch.Generator().manual_seed(0))


def test_translation_moves_a_minority_image_toward_the_other_domain_and_transform_keeps_the_contract() -> None:
    images, labels, sites = two_domains()
    augmenter = StyleTransferAugmenter(**TINY, device="cpu").fit(images, sites, rng=np.random.default_rng(0))
    assert augmenter.domains_ == ["day", "night"] and augmenter.cost_["seconds"] > 0
    night_posts = [x for x, y, s in zip(images, labels, sites, strict=True) if y == "post" and s == "night"]
    translated = augmenter.translate(night_posts, "night")
    before = np.mean([x.reshape(-1, 3).mean(0) for x in night_posts], axis=0)
    after = np.mean([x.reshape(-1, 3).mean(0) for x in translated], axis=0)
    # an identity generator leaves the distance to the day colours unchanged; the translator must close most of it
    assert np.linalg.norm(after - DAY) < 0.5 * np.linalg.norm(before - DAY), (before, after)
    batch = torch.rand(4, 3, 16, 16)
    out = augmenter.transform(batch, torch.tensor([1.0, 1.0, 0.0, 0.0]), torch.Generator().manual_seed(1))
    assert out.shape == batch.shape and out.dtype == batch.dtype and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert torch.equal(out[2:], batch[2:]) and not torch.allclose(out[:2], batch[:2], atol=1e-3)


def test_prepare_adds_gated_translated_minority_items_marked_synthetic() -> None:
    images, labels, sites = two_domains()
    params = {"augmenter": "style_transfer", "style_transfer": {**TINY, "device": "cpu"}}
    ts = prepare_training_set(images, labels, method="augment", params=params, learner_name="image",
                              rng=np.random.default_rng(0), domains=sites)
    added = int(ts.synthetic_mask.sum())
    assert ts.info["applied"] == ["style_transfer"]
    assert 0 < added <= 6 and set(ts.y[len(labels):]) == {"post"}  # only the minority class is translated
    summary = balancing_summary(ts.info)["synthetic"]
    assert summary["generator"] == "style_transfer" and summary["kept"] == added and summary["drawn"] == 6


def test_balancing_check_refuses_style_transfer_without_a_domain_field_or_with_one_domain() -> None:
    cls = get_registry("learners").load("image")
    ok = {"augmenter": "style_transfer", "style_transfer": {"domain_field": "site"}}
    check_balancing("augment", ok, learner_cls=cls, input_kind="image", domain_values=["a", "b", "a"])
    with pytest.raises(BalancingError, match="domain_field"):
        check_balancing("augment", {"augmenter": "style_transfer"}, learner_cls=cls, input_kind="image")
    with pytest.raises(BalancingError, match="no task has 'site'"):
        check_balancing("augment", ok, learner_cls=cls, input_kind="image", domain_values=[None, None])
    with pytest.raises(BalancingError, match="1 value"):
        check_balancing("augment", ok, learner_cls=cls, input_kind="image", domain_values=["a", "a"])
    with pytest.raises(BalancingError, match="unexpected keyword"):
        check_balancing("augment", {**ok, "style_transfer": {"domain_field": "site", "colour": 1}},
                        learner_cls=cls, input_kind="image")


def test_a_failed_translation_trains_without_augmented_items_and_says_why() -> None:
    images, labels, sites = two_domains()
    params = {"augmenter": "style_transfer", "style_transfer": {**TINY, "device": "cpu"}}
    ts = prepare_training_set(images, labels, method="augment", params=params, learner_name="image",
                              rng=np.random.default_rng(0), domains=["day"] * len(labels))  # one domain only
    assert len(ts.y) == len(labels) and not ts.synthetic_mask.any() and ts.info["applied"] == []
    assert "style_transfer: the translation failed" in ts.info["skipped"][0]
    assert "trained without augmented items" in ts.info["skipped"][0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_style_transfer_trains_on_cuda_when_asked() -> None:
    images, _labels, sites = two_domains()
    augmenter = StyleTransferAugmenter(**TINY, device="cuda").fit(images, sites, rng=np.random.default_rng(0))
    assert augmenter.cost_["device"] == "cuda" and len(augmenter.translate(images[:2], sites[0])) == 2
