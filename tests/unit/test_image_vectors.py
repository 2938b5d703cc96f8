"""Encoder vectors of images in the embedding store: keyed by image content, kept across a restart, one forward
pass for a new or changed image, rebuilt when the encoder's output size changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.learners.image_vectors import content_key, encoder_vectors, missing_images
from labelsieve.learners.pretrained import lite0_installed
from labelsieve.registry import get_registries


class CountingEncoder:
    """A plugin-shaped encoder: the mean colour and a few pixels per image, counting the images it encodes."""

    def __init__(self, dim: int = 6, name: str = "counting") -> None:
        self.dim, self.name, self.encoded = dim, name, 0

    def key(self) -> str:
        return f"encoder/{self.name}"

    @property
    def output_dim(self) -> int:
        return self.dim

    def encode(self, images: list[Any]) -> np.ndarray:
        self.encoded += len(images)
        flat = [np.asarray(i, dtype=np.float32).reshape(-1) for i in images]
        return np.stack([np.resize(f, self.dim) / 255.0 + f.mean() / 255.0 for f in flat]).astype(np.float32)


def _images(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(n)]


def test_image_vectors_round_trip_and_survive_a_restart(tmp_path: Path) -> None:
    images = _images(20, 0)
    cache = EmbeddingCache()
    cache.attach(tmp_path / "embeddings")
    encoder = CountingEncoder()
    first = encoder_vectors(encoder, images, cache)
    assert first.shape == (20, 6) and encoder.encoded == 20
    again = encoder_vectors(encoder, images[::-1], cache)[::-1]
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert encoder.encoded == 20  # nothing encoded twice

    restarted = EmbeddingCache()  # a new process: memory empty, the store on disk
    restarted.attach(tmp_path / "embeddings")
    fresh = CountingEncoder()
    assert missing_images(fresh, images, restarted) == []
    changed = [*images[:19], np.full((12, 12, 3), 7, dtype=np.uint8)]  # one task's image replaced
    vectors = encoder_vectors(fresh, changed, restarted)
    assert fresh.encoded == 1  # only the changed image costs a forward pass
    np.testing.assert_allclose(vectors[:19], first[:19], atol=2e-3)  # float16 on disk
    assert content_key(images[0]) == content_key(images[0].copy())
    assert content_key(images[0]) != content_key(images[0][:, :, 0])  # grey differs from colour


def test_an_encoder_whose_output_size_changed_gets_its_store_rebuilt(tmp_path: Path) -> None:
    images = _images(8, 1)
    cache = EmbeddingCache()
    cache.attach(tmp_path / "embeddings")
    encoder_vectors(CountingEncoder(dim=6), images, cache)
    wider = CountingEncoder(dim=10)  # the same key, a different network width
    vectors = encoder_vectors(wider, images, cache)
    assert vectors.shape == (8, 10) and wider.encoded == 8
    store = cache.store(wider.key())
    assert store is not None and store.dim == 10 and len(store) == 8
    restarted = EmbeddingCache()
    restarted.attach(tmp_path / "embeddings")
    assert restarted.store(wider.key()).dim == 10  # the old 6-d segments are gone


def test_packaged_encoder_vectors_come_back_from_disk(tmp_path: Path) -> None:
    if not lite0_installed():
        import pytest

        pytest.skip("the encoders extra (EfficientNet-Lite0) is missing")
    images = _images(6, 2)
    cache = EmbeddingCache()
    cache.attach(tmp_path / "embeddings")
    encoder = get_registries().encoders.create("efficientnet_lite0", {"image_size": 64})
    first = encoder_vectors(encoder, images, cache)
    restarted = EmbeddingCache()
    restarted.attach(tmp_path / "embeddings")
    other = get_registries().encoders.create("efficientnet_lite0", {"image_size": 64})
    assert missing_images(other, images, restarted) == []
    np.testing.assert_allclose(encoder_vectors(other, images, restarted), first, atol=1e-2, rtol=1e-2)


def test_the_store_compacts_its_segments_and_keeps_every_vector(tmp_path: Path) -> None:
    from labelsieve.learners.embedding_store import EmbeddingStore

    store = EmbeddingStore(tmp_path, max_segments=4)
    rng = np.random.default_rng(3)
    written = {}
    for batch in range(10):  # ten puts, as a background job writes one segment per batch
        keys = [f"image-{batch}-{i}" for i in range(5)]
        vectors = rng.normal(size=(5, 3)).astype(np.float32)
        store.put(keys, vectors)
        written.update(zip(keys, vectors, strict=True))
    assert store.segment_count() <= 4
    reopened = EmbeddingStore(tmp_path)  # a restart reads the compacted files
    found, vectors = reopened.get(list(written))
    assert found.all() and len(reopened) == 50
    np.testing.assert_allclose(vectors, np.stack(list(written.values())), atol=2e-3)
