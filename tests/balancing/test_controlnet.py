"""``sd_controlnet`` end to end with a tiny random-weight Stable Diffusion + ControlNet built from configs (no
download): edges of a real minority image condition the draw, both pipeline modes run, the gates apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.balancing import BalancingError, prepare_training_set
from labelsieve.balancing.base import Synthesizer
from labelsieve.balancing.controlnet import ControlNetSynthesizer, edge_map
from labelsieve.registry import get_registry
from tests.balancing.test_diffusion import tiny_sd_checkpoint  # noqa: F401  (the random-weight SD fixture)

pytestmark = pytest.mark.diffusion


@pytest.fixture(scope="module")
def tiny_controlnet(tmp_path_factory) -> Path:
    """A random-weight ControlNet matching the tiny SD UNet (32 px images, 16 px latents)."""
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(0)
    controlnet = ControlNetModel(
        block_out_channels=(32, 64), layers_per_block=1, in_channels=4, cross_attention_dim=32, norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), conditioning_embedding_out_channels=(16, 32),
    )
    path = tmp_path_factory.mktemp("controlnet")
    controlnet.save_pretrained(str(path))
    return path


def small_set(digits: tuple[np.ndarray, np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    images, labels = digits
    idx = np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in (("0", 12), ("1", 12), ("2", 3))])
    return list(images[idx]), labels[idx].tolist()


def test_the_edge_map_follows_the_shape_of_the_image(digits) -> None:
    images, labels = digits
    one = images[np.flatnonzero(labels == "1")[0]]
    edges = np.asarray(edge_map(one, 32, threshold=40, width=1))
    assert edges.shape == (32, 32, 3) and set(np.unique(edges).tolist()) <= {0, 255}
    blank = np.asarray(edge_map(np.zeros((8, 8), dtype=np.uint8), 32, threshold=40, width=1))
    assert edges.any() and not blank.any()  # edges where the stroke is, none on a blank image


@pytest.mark.slow  # building the tiny pipeline takes ~1-2 min on the shared 2-core box
@pytest.mark.parametrize("strength", [None, 0.6])
def test_sd_controlnet_runs_from_local_directories_and_fills_the_minority(
    tiny_sd_checkpoint, tiny_controlnet, digits, monkeypatch, strength  # noqa: F811
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    images, labels = small_set(digits)
    params = {"model_path": str(tiny_sd_checkpoint), "controlnet_path": str(tiny_controlnet), "image_size": 32,
              "inference_steps": 2, "guidance_scale": 2.0, "strength": strength}
    synth = get_registry("synthesizers").create("sd_controlnet", params)
    assert isinstance(synth, ControlNetSynthesizer) and isinstance(synth, Synthesizer)
    synth.check()
    synth.fit(images, labels, rng=np.random.default_rng(0))
    out, out_labels = synth.sample({"2": 2}, rng=np.random.default_rng(0))
    assert out_labels == ["2", "2"] and all(img.shape == (32, 32, 3) and img.dtype == np.uint8 for img in out)
    ts = prepare_training_set(images, labels, method="sd_controlnet",
                              params={"synthesizer_params": params, "quality_gate": False},
                              learner_name="image", rng=np.random.default_rng(0))
    assert ts.info["synthetic"].labels == ["2"] * 9 and ts.synthetic_mask.sum() == 9  # up to the 12 of the head


@pytest.mark.slow
def test_sd_controlnet_refuses_missing_or_hub_checkpoints_and_bad_parameters(
    tiny_sd_checkpoint, tiny_controlnet, tmp_path  # noqa: F811
) -> None:
    registry = get_registry("synthesizers")
    good = {"model_path": str(tiny_sd_checkpoint), "controlnet_path": str(tiny_controlnet)}
    registry.create("sd_controlnet", good).check()
    for bad, word in (({"model_path": None}, "model_path"), ({"controlnet_path": "lllyasviel/sd-controlnet-canny"},
                      "controlnet_path"), ({"controlnet_path": str(tmp_path)}, "controlnet_path"),
                      ({"strength": 1.5}, "strength"), ({"image_size": 30}, "image_size")):
        with pytest.raises(BalancingError, match=word):
            registry.create("sd_controlnet", {**good, **bad}).check()
