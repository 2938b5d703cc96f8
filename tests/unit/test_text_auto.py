"""``learner: auto`` on text: sentence embeddings from an installed model package, TF-IDF without one."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.labelconfig import parse_label_config
from labelsieve.learners import text_models
from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.learners.text import TextLearner
from labelsieve.learners.text_models import auto_text_params, installed_embedding_model
from labelsieve.registry import get_registries
from labelsieve.service.project_settings import resolve_settings
from labelsieve.settings import Settings
from labelsieve.simulate.dataset_base import Dataset
from labelsieve.simulate.project_inputs import resolve_learner
from tests.factories import IMAGE_CONFIG, TEXT_CONFIG

MODEL = installed_embedding_model()
needs_model = pytest.mark.skipif(MODEL is None, reason="the packaged MiniLM model is a dev extra")


def _resolve(config: str, extra: dict) -> dict:
    resolved = resolve_settings(settings=Settings(), extra=extra, config=parse_label_config(config),
                                registries=get_registries(), light=False)
    return {"learner": resolved.settings.learner, "learner_params": resolved.settings.learner_params}


@needs_model
def test_auto_text_project_reads_the_installed_model() -> None:
    assert MODEL is not None and MODEL.endswith("model")
    assert _resolve(TEXT_CONFIG, {}) == {"learner": "text", "learner_params": {"embedding_model": MODEL}}
    # a project that names TF-IDF (null) or its own model keeps it; other params stay
    assert _resolve(TEXT_CONFIG, {"learner_params": {"embedding_model": None, "C": 3.0}})["learner_params"] == {
        "embedding_model": None, "C": 3.0}
    assert _resolve(TEXT_CONFIG, {"learner_params": {"C": 3.0}})["learner_params"] == {
        "C": 3.0, "embedding_model": MODEL}
    # an explicitly named learner is not touched, nor an image project
    assert _resolve(TEXT_CONFIG, {"learner": "text"})["learner_params"] == {}
    assert _resolve(IMAGE_CONFIG, {})["learner_params"] == {}


def test_without_a_model_package_auto_text_is_tfidf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_models, "MODEL_PACKAGES", ("no_such_model_package_xyz",))
    assert installed_embedding_model() is None
    assert auto_text_params({"C": 2.0}) == {"C": 2.0}
    assert _resolve(TEXT_CONFIG, {}) == {"learner": "text", "learner_params": {}}


@needs_model
def test_simulation_auto_on_text_uses_the_model() -> None:
    data = Dataset(name="t", kind="text", items=["good", "bad"], labels=np.array(["p", "n"]))
    assert resolve_learner("auto", data).learner == "text"
    assert resolve_learner("auto", data).params == {"embedding_model": MODEL}
    assert resolve_learner("text", data).params == {}
    image = Dataset(name="i", kind="image", items=[np.zeros((2, 2))] * 2, labels=np.array(["p", "n"]))
    assert "embedding_model" not in resolve_learner("auto", image).params


def test_embedding_cache_encodes_each_text_once_and_keeps_the_order() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)

    cache = EmbeddingCache(max_items=3)
    first = cache.encode("m", ["aa", "b", "aa"], encode)
    assert calls == [["aa", "b"]] and first.tolist() == [[2, 2], [1, 0], [2, 2]]
    again = cache.encode("m", ["b", "ccc"], encode)
    assert calls[-1] == ["ccc"] and again.tolist() == [[1, 0], [3, 0]]
    cache.encode("other-model", ["b"], encode)  # another model's vectors are its own
    assert calls[-1] == ["b"] and len(cache) == 3  # the least recently used ("aa") went out
    cache.encode("m", ["aa"], encode)
    assert calls[-1] == ["aa"]


@needs_model
def test_text_learner_reuses_cached_embeddings_across_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["a tasty soup", "the train was late", "lovely dinner", "delayed flight"]
    y = ["food", "travel", "food", "travel"]
    first = TextLearner(embedding_model=MODEL).fit(texts, y)
    encoded: list[int] = []
    learner = TextLearner(embedding_model=MODEL)
    real = learner._encode
    monkeypatch.setattr(learner, "_encode", lambda batch: encoded.append(len(batch)) or real(batch))
    learner.fit(texts, y)
    assert encoded == []  # every text came from the cache
    np.testing.assert_allclose(learner.predict_proba(texts), first.predict_proba(texts), rtol=1e-5, atol=1e-6)
