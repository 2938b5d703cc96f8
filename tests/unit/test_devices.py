"""The ``device`` setting: spelled auto/cpu/cuda[:n], put in scope per round, reaching torch. The CUDA tests run
only where there is a GPU (none here: they skip)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from labelsieve.devices import check_device, current_device, device_scope, resolve_device
from labelsieve.learners.image import ImageLearner
from labelsieve.strategies import distance

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_device_names_are_checked_and_scoped_per_thread() -> None:
    for good in ("auto", "cpu", "cuda", "cuda:1"):
        assert check_device(good) == good
    for bad in ("gpu", "cuda:x", "", 3, None):
        with pytest.raises(ValueError, match="device must be"):
            check_device(bad)
    seen: list[str] = []
    with device_scope("cpu"):
        assert current_device() == "cpu" and resolve_device().type == "cpu"
        assert distance.resolve_device("auto").type == "cpu"  # the distance kernels follow the round's device
        worker = threading.Thread(target=lambda: seen.append(current_device()))
        worker.start()
        worker.join()
    assert seen == ["auto"] and current_device() == "auto"  # another thread (another project) is not affected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_asked_for_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    with device_scope("cuda"), pytest.raises(ValueError, match="CUDA is not available"):
        ImageLearner(epochs=1).fit([np.zeros((8, 8), dtype=np.uint8)] * 4, ["a", "b", "a", "b"])


def _digits(n: int) -> tuple[list[np.ndarray], list[str]]:
    digits = load_digits()
    return [(img * 16).astype(np.uint8) for img in digits.images[:n]], digits.target[:n].astype(str).tolist()


@needs_cuda
def test_the_cnn_trains_and_predicts_on_cuda_like_on_the_cpu() -> None:
    images, y = _digits(200)
    with device_scope("cuda"):
        gpu = ImageLearner(epochs=5, image_size=16).fit(images, y)
        proba = gpu.predict_proba(images)
    assert next(gpu.net_.parameters()).device.type == "cpu"  # stored on the CPU (saved, served anywhere)
    assert np.mean(np.array(gpu.classes_)[proba.argmax(1)] == np.array(y)) > 0.5


@needs_cuda
def test_an_encoder_gives_the_same_vectors_on_cuda() -> None:
    from labelsieve.learners.pretrained import lite0_installed
    from labelsieve.registry import get_registries

    if not lite0_installed():
        pytest.skip("the encoders extra is missing")
    images, _ = _digits(16)
    encoder = get_registries().encoders.create("efficientnet_lite0", {"image_size": 64})
    with device_scope("cpu"):
        cpu = encoder.encode(images)
    with device_scope("cuda"):
        gpu = encoder.encode(images)
    cosine = (cpu * gpu).sum(1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(gpu, axis=1))
    assert cosine.min() > 0.98  # bfloat16 autocast on CUDA
