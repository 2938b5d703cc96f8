"""The class-conditional GAN synthesizer (``dcgan``): discovered, conformant, trains on tiny data, and the gates
keep a generator that copies its training images (or fails) out of the round."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labelsieve.balancing import BalancingError, prepare_training_set
from labelsieve.balancing.base import Synthesizer, balancing_summary
from labelsieve.balancing.gan import ConditionalGANSynthesizer
from labelsieve.registry import get_registry
from tests.factories import IMAGE_CONFIG, setup_payload

TINY_GAN = {"image_size": 8, "width": 8, "latent_dim": 8, "train_steps": 4, "batch_size": 16}


def small_long_tail(digits: tuple[np.ndarray, np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    images, labels = digits
    idx = np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in (("0", 30), ("1", 30), ("2", 5))])
    return list(images[idx]), labels[idx].tolist()


def test_dcgan_is_discovered_and_conforms_to_the_synthesizer_contract() -> None:
    registry = get_registry("synthesizers")
    assert "dcgan" in registry.names()
    gan = registry.create("dcgan", TINY_GAN)
    assert isinstance(gan, ConditionalGANSynthesizer) and isinstance(gan, Synthesizer)
    assert gan.input_kinds == ("image",)
    assert type(gan)(**gan.get_params()).get_params() == gan.get_params()  # the constructor only stores
    gan.check()
    for bad in ({"image_size": 12}, {"channels": 2}, {"train_steps": 0}, {"lr": 2.0}, {"device": "tpu"}):
        with pytest.raises(BalancingError):
            registry.create("dcgan", {**TINY_GAN, **bad}).check()


def test_dcgan_trains_on_tiny_data_samples_the_asked_classes_and_reports_its_cost(digits) -> None:
    images, labels = small_long_tail(digits)
    gan = get_registry("synthesizers").create("dcgan", TINY_GAN).fit(images, labels, rng=np.random.default_rng(0))
    assert gan.classes_ == ["0", "1", "2"] and all(np.isfinite(v) for v in gan.final_losses_.values())
    assert gan.cost_["device"] in ("cpu", "cuda") and gan.cost_["seconds"] > 0 and gan.cost_["parameters"] > 0
    out, out_labels = gan.sample({"2": 5, "1": 2}, rng=np.random.default_rng(1))
    assert out_labels == ["2"] * 5 + ["1"] * 2
    assert all(image.shape == (8, 8) and image.dtype == np.uint8 for image in out)
    again, _ = gan.sample({"2": 5, "1": 2}, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))  # seeded
    assert not np.array_equal(out[0], out[1])  # different noise, different images
    with pytest.raises(BalancingError, match="not trained on class"):
        gan.sample({"7": 1}, rng=np.random.default_rng(0))


def test_prepare_fills_the_minority_with_gated_gan_images_and_records_the_cost(digits) -> None:
    images, labels = small_long_tail(digits)
    ts = prepare_training_set(images, labels, method="dcgan",
                              params={"synthesizer_params": TINY_GAN, "quality_gate": False, "min_novelty": 0.0,
                                      "max_synthetic_per_class": 10},
                              learner_name="image", rng=np.random.default_rng(0))
    batch = ts.info["synthetic"]
    assert set(batch.labels) == {"2"} and len(batch.labels) == 10  # the per-class cap, only the minority
    assert ts.n_real == 65 and ts.synthetic_mask[65:].all()
    summary = balancing_summary(ts.info)
    assert summary["synthetic"]["cost"]["train_steps"] == 4 and "skipped" not in summary


def copies_of_training_images(self: Any, counts: dict[str, int], *, rng: np.random.Generator
                              ) -> tuple[list[np.ndarray], list[str]]:
    """A memorising generator: returns the training images of the class, lightly jittered (±2 grey levels)."""
    images, labels = [], []
    for label, k in counts.items():
        members = [image for image, y in self.training_ if y == label]
        for i in range(int(k)):
            jitter = rng.integers(-2, 3, members[0].shape)
            images.append(np.clip(members[i % len(members)].astype(int) + jitter, 0, 255).astype(np.uint8))
            labels.append(label)
    return images, labels


def test_the_gates_reject_a_generator_that_copies_its_training_images(digits, monkeypatch) -> None:
    images, labels = small_long_tail(digits)
    original_fit = ConditionalGANSynthesizer.fit

    def remembering_fit(self: Any, X: Any, y: Any, *, rng: np.random.Generator) -> Any:
        self.training_ = list(zip(X, y, strict=True))
        return original_fit(self, X, y, rng=rng)

    monkeypatch.setattr(ConditionalGANSynthesizer, "fit", remembering_fit)
    monkeypatch.setattr(ConditionalGANSynthesizer, "sample", copies_of_training_images)
    ts = prepare_training_set(images, labels, method="dcgan", params={"synthesizer_params": TINY_GAN},
                              learner_name="image", rng=np.random.default_rng(0))
    assert ts.synthetic_mask.sum() == 0 and len(ts.y) == 65  # the copies pass the classifier but not novelty
    assert ts.info["synthetic"].rejected == ts.info["synthetic_drawn"] == 38
    assert "none of the 38 drawn images passed the quality gates" in balancing_summary(ts.info)["skipped"][0]


def test_a_failing_synthesizer_leaves_the_round_on_real_items_and_says_why(digits, monkeypatch) -> None:
    images, labels = small_long_tail(digits)

    def broken_fit(self: Any, X: Any, y: Any, *, rng: np.random.Generator) -> Any:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(ConditionalGANSynthesizer, "fit", broken_fit)
    ts = prepare_training_set(images, labels, method="logit_adjusted+dcgan", params={"synthesizer_params": TINY_GAN},
                              learner_name="image", rng=np.random.default_rng(0))
    assert ts.synthetic_mask.sum() == 0 and ts.learner_overrides["loss"] == "logit_adjusted"
    skipped = balancing_summary(ts.info)["skipped"]
    assert skipped == ["dcgan: the synthesizer failed (RuntimeError: CUDA out of memory); trained without "
                       "synthetic items"]


def test_setup_refuses_bad_dcgan_parameters_with_400(client) -> None:
    assert client.app.state.service.plugins_ready.wait(120)
    bad = setup_payload(64, IMAGE_CONFIG, {"learner": "image", "balancing": "dcgan",
                                           "balancing_params": {"synthesizer_params": {"image_size": 12}}})
    response = client.post("/setup", json=bad)
    assert response.status_code == 400 and "image_size" in response.json()["detail"], response.text
    good = setup_payload(64, IMAGE_CONFIG, {"learner": "image", "balancing": "logit_adjusted+dcgan",
                                            "balancing_params": {"synthesizer_params": TINY_GAN}})
    assert client.post("/setup", json=good).status_code == 200
