"""Both diffusion paths with tiny random-weight models built from config (no download), and the quality gate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelsieve.balancing import BalancingError, prepare_training_set
from labelsieve.balancing.quality import pixel_classifier, quality_gate
from labelsieve.registry import get_registry

TINY_DDPM = {"image_size": 8, "block_out_channels": [16, 32], "train_steps": 25, "batch_size": 32,
             "inference_steps": 4, "warmup_steps": 5}


def test_ddpm_trains_from_config_and_samples_the_requested_classes(digits, tmp_path) -> None:
    from diffusers import UNet2DModel

    images, labels = digits
    idx = np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in (("0", 40), ("1", 40), ("2", 4))])
    ddpm = get_registry("synthesizers").create("ddpm", TINY_DDPM)
    ddpm.fit(list(images[idx]), labels[idx].tolist(), rng=np.random.default_rng(0))
    assert ddpm.classes_ == ["0", "1", "2"] and np.isfinite(ddpm.final_loss_)
    out, out_labels = ddpm.sample({"2": 5, "1": 2}, rng=np.random.default_rng(1))
    assert out_labels == ["2"] * 5 + ["1"] * 2
    assert all(img.shape == (8, 8) and img.dtype == np.uint8 for img in out)
    again, _ = ddpm.sample({"2": 5, "1": 2}, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))  # seeded
    with pytest.raises(BalancingError, match="not trained on class"):
        ddpm.sample({"7": 1}, rng=np.random.default_rng(0))
    ddpm.save(tmp_path)
    reloaded = UNet2DModel.from_pretrained(str(tmp_path / "unet"), local_files_only=True)
    assert reloaded.config.num_class_embeds == 4  # 3 classes + the unconditional token


def test_prepare_fills_minority_classes_with_gated_ddpm_samples(digits) -> None:
    images, labels = digits
    idx = np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in (("0", 30), ("1", 30), ("2", 5))])
    params = {"synthesizer_params": TINY_DDPM, "gate_threshold": 0.0, "synthetic_weight": 0.5}
    ts = prepare_training_set(list(images[idx]), labels[idx].tolist(), method="ddpm", params=params,
                              learner_name="image", rng=np.random.default_rng(0))
    batch = ts.info["synthetic"]
    assert ts.n_real == 65 and ts.synthetic_mask[:65].sum() == 0
    assert len(batch.labels) == int(ts.synthetic_mask.sum()) <= 25
    assert set(batch.labels) <= {"2"}  # only the minority class is filled
    assert ts.sample_weight is not None and np.all(ts.sample_weight[65:] == 0.5)
    assert ts.info["synthetic_drawn"] == 38  # 25 wanted, 1.5x drawn so the gate can drop some
    assert len(batch.labels) == min(25, 38 - batch.rejected)
    off = prepare_training_set(list(images[idx]), labels[idx].tolist(), method="logit_adjusted+ddpm",
                               params={**params, "synthesis": False}, learner_name="image",
                               rng=np.random.default_rng(0))
    assert off.synthetic_mask.sum() == 0 and off.info["applied"] == ["logit_adjusted", "ddpm"]
    assert off.info["skipped"] == ["ddpm (synthesis switched off)"]


def test_quality_gate_drops_a_sample_assigned_to_the_wrong_class(digits) -> None:
    images, labels = digits
    train = np.arange(0, 600)
    classify, classes = pixel_classifier(list(images[train]), labels[train].tolist())
    three, seven = np.flatnonzero(labels == "3")[-1], np.flatnonzero(labels == "7")[-1]
    keep, confidence = quality_gate([images[three], images[seven], images[three]], ["3", "7", "7"],
                                    classify=classify, classes=classes, threshold=0.5)
    assert keep.tolist() == [True, True, False]  # a "3" offered as a "7" is rejected
    assert confidence[0] > 0.5 and confidence[2] < 0.5
    strict, _ = quality_gate([images[three]], ["3"], classify=classify, classes=classes, threshold=1.0)
    assert strict.tolist() == [False]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte-to-character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


@pytest.fixture(scope="module")
def tiny_sd_checkpoint(tmp_path_factory) -> Path:
    """A random-weight Stable Diffusion img2img pipeline saved in diffusers layout (no download)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tok")
    chars = list(_bytes_to_unicode().values())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(token, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>",
                              model_max_length=77)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8,
    )
    vae = AutoencoderKL(block_out_channels=[16, 32], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=8)
    text = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32,
                                        intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=4,
                                        num_hidden_layers=2, vocab_size=1000))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                          scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    path = tmp_path_factory.mktemp("sd")
    pipe.save_pretrained(str(path))
    return path


def test_sd_img2img_loads_a_local_checkpoint_and_makes_images_of_the_requested_size(
    tiny_sd_checkpoint, digits, monkeypatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    images, labels = digits
    idx = np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in (("0", 20), ("1", 20), ("2", 3))])
    synth = get_registry("synthesizers").create("sd_img2img", {
        "model_path": str(tiny_sd_checkpoint), "image_size": 32, "inference_steps": 4, "strength": 0.5,
        "guidance_scale": 2.0,
    })
    synth.check()
    synth.fit(list(images[idx]), labels[idx].tolist(), rng=np.random.default_rng(0))
    out, out_labels = synth.sample({"2": 3}, rng=np.random.default_rng(0))
    assert out_labels == ["2"] * 3
    assert all(img.shape == (32, 32, 3) and img.dtype == np.uint8 for img in out)
    # random weights make noise: the gate (a classifier of the real digits) must reject most of it ...
    params = {"synthesizer_params": synth.get_params(), "gate_threshold": 0.9}
    gated = prepare_training_set(list(images[idx]), labels[idx].tolist(), method="sd_img2img", params=params,
                                 learner_name="image", rng=np.random.default_rng(0))
    batch = gated.info["synthetic"]
    assert batch.rejected >= gated.info["synthetic_drawn"] // 2
    assert all(c >= 0.9 for c in batch.confidence)
    # ... and with the gate switched off every requested image is kept
    ungated = prepare_training_set(list(images[idx]), labels[idx].tolist(), method="sd_img2img",
                                   params={**params, "quality_gate": False}, learner_name="image",
                                   rng=np.random.default_rng(0))
    assert ungated.info["synthetic"].labels == ["2"] * 17  # filled up to the 20 images of the largest class
    assert ungated.info["synthetic"].rejected == 0


def test_sd_img2img_refuses_a_hub_id_or_missing_directory(tmp_path) -> None:
    for path in (None, "runwayml/stable-diffusion-v1-5", str(tmp_path)):
        with pytest.raises(BalancingError, match="model_path"):
            get_registry("synthesizers").create("sd_img2img", {"model_path": path}).check()
