"""One ``auto``: the service (``/setup``) and ``labelsieve simulate`` resolve the same learner and parameters for the
same data; image projects read the installed encoder; ``auto_image`` reports what it chose and why."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from labelsieve.labelconfig import parse_label_config
from labelsieve.learners import auto
from labelsieve.learners.auto_image import AutoImageLearner
from labelsieve.learners.pretrained import lite0_installed
from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import get_registries
from labelsieve.service.project_settings import ProjectSettingsError, resolve_settings
from labelsieve.settings import Settings
from labelsieve.simulate.dataset_base import Dataset
from labelsieve.simulate.project_inputs import label_config, resolve_learner
from tests.factories import IMAGE_CONFIG, TEXT_CONFIG

needs_lite0 = pytest.mark.skipif(not lite0_installed(), reason="the encoders extra (EfficientNet-Lite0) is missing")


@pytest.fixture(autouse=True)
def _installed_encoder_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELSIEVE_IMAGE_ENCODER", "auto")  # the product's default (conftest sets none)


def _service(config: str, extra: dict) -> tuple[str, dict]:
    resolved = resolve_settings(settings=Settings(), extra=extra, config=parse_label_config(config),
                                registries=get_registries(), light=False)
    return resolved.settings.learner, resolved.settings.learner_params


def _datasets() -> list[Dataset]:
    digits = load_digits()
    return [Dataset(name="img", kind="image", items=list(digits.images[:20].astype(np.uint8)),
                    labels=digits.target[:20].astype(str)),
            Dataset(name="txt", kind="text", items=["good", "bad"] * 5, labels=np.array(["p", "n"] * 5))]


@pytest.mark.parametrize("params", [{}, {"encoder": None}, {"pixel_size": 8}])
def test_simulation_and_service_resolve_the_same_learner_for_the_same_data(params: dict) -> None:
    for dataset in _datasets():
        config = label_config(dataset.kind, dataset.classes)  # what the simulation gives its service loop
        simulated = resolve_learner("auto", dataset, params if dataset.kind == "image" else {})
        served = _service(config, {"learner_params": params if dataset.kind == "image" else {}})
        assert (simulated.learner, simulated.params) == served
    assert _service(IMAGE_CONFIG, {})[0] == "auto_image" and _service(TEXT_CONFIG, {})[0] == "text"


@needs_lite0
def test_auto_on_images_reads_the_installed_encoder_and_null_keeps_pixels() -> None:
    assert _service(IMAGE_CONFIG, {}) == ("auto_image", {"encoder": "efficientnet_lite0"})
    assert _service(IMAGE_CONFIG, {"learner_params": {"encoder": None}}) == ("auto_image", {"encoder": None})
    image = _datasets()[0]
    assert resolve_learner("auto", image).describe() == "auto_image on the efficientnet_lite0 encoder"


def test_without_an_encoder_package_auto_images_stay_on_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "DEFAULT_ENCODER_PACKAGES", ("no_such_encoder_package_xyz",))
    assert _service(IMAGE_CONFIG, {}) == ("auto_image", {})
    assert resolve_learner("auto", _datasets()[0]).params == {}
    monkeypatch.undo()
    monkeypatch.setenv("LABELSIEVE_IMAGE_ENCODER", "none")  # the service setting: pixels everywhere
    assert _service(IMAGE_CONFIG, {}) == ("auto_image", {})
    assert resolve_learner("auto", _datasets()[0]).params == {}
    monkeypatch.setenv("LABELSIEVE_IMAGE_ENCODER", "torchvision")  # or another encoder plugin
    assert _service(IMAGE_CONFIG, {})[1] == resolve_learner("auto", _datasets()[0]).params == {"encoder": "torchvision"}


@needs_lite0
def test_auto_image_chooses_encoder_features_when_an_encoder_is_installed(tmp_path) -> None:
    digits = load_digits()
    images = [(img * 16).astype(np.uint8) for img in digits.images[:60]]
    y = digits.target[:60].astype(str).tolist()
    learner = AutoImageLearner(encoder="efficientnet_lite0", encoder_params={"image_size": 32}, min_cnn_labels=1000)
    learner.fit(images, y, unlabeled=[(img * 16).astype(np.uint8) for img in digits.images[60:120]])
    assert isinstance(learner.model_, VectorLearner) and learner.chosen_ == "linear"
    assert learner.model_.head_.coef.shape[1] == 1280  # the encoder's vectors, not 8x8 pixels
    assert "efficientnet_lite0 encoder vectors" in learner.reason_
    pixels = AutoImageLearner(min_cnn_labels=1000).fit(images, y)
    assert pixels.model_.head_.coef.shape[1] == 64 and "pixels" in pixels.reason_
    learner.save(tmp_path)
    loaded = AutoImageLearner.load(tmp_path)
    assert loaded.reason_ == learner.reason_
    np.testing.assert_allclose(loaded.predict_proba(images[:5]), learner.predict_proba(images[:5]), atol=1e-4)
    assert learner._cnn().arch == "efficientnet_lite0"  # the CNN candidate fine-tunes the same network


def test_bad_device_and_offline_hub_embedding_model_are_refused_at_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProjectSettingsError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>'"):
        _service(IMAGE_CONFIG, {"device": "gpu0"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProjectSettingsError, match="'no-such-org/no-such-embedder'.*HF_HUB_OFFLINE.*huggingface-cli "
                                                   "download no-such-org/no-such-embedder"):
        _service(TEXT_CONFIG, {"learner": "text",
                               "learner_params": {"embedding_model": "no-such-org/no-such-embedder"}})
    with pytest.raises(ProjectSettingsError, match="folder /no/such/model/folder does not exist"):
        _service(TEXT_CONFIG, {"learner_params": {"embedding_model": "/no/such/model/folder"}})


@needs_lite0
def test_the_encoder_fine_tune_is_left_out_of_a_cpu_round_unless_asked_for() -> None:
    from labelsieve.devices import resolve_device

    if resolve_device().type != "cpu":
        pytest.skip("this round would run on a GPU, where the fine-tune is a candidate by default")
    digits = load_digits()
    keep = np.flatnonzero(digits.target < 3)[:24]  # 3 classes, 8 labels each: past min_cnn_labels, 2 per fold
    images = [(digits.images[i] * 16).astype(np.uint8) for i in keep]
    y = digits.target[keep].astype(str).tolist()
    params = {"encoder": "efficientnet_lite0", "encoder_params": {"image_size": 32}, "min_cnn_labels": 20,
              "cv_folds": 2, "cnn_params": {"image_size": 32, "epochs": 1, "batch_size": 16}}
    default = AutoImageLearner(**params).fit(images, y)
    assert default.chosen_ == "linear" and not default.cv_scores_  # no fine-tune was trained
    assert "GPU only" in default.reason_ and "finetune_on_cpu" in default.reason_
    asked = AutoImageLearner(**params, finetune_on_cpu=True).fit(images, y)
    assert set(asked.cv_scores_) == {"linear", "cnn"}  # the fine-tuned network was cross-validated
    assert "fine-tuned encoder network" in asked.reason_ and "GPU only" not in asked.reason_
