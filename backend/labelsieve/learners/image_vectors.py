"""Encoder vectors of images, cached by media content hash in the embedding store, as text embeddings are.

An image's key is the blake2b digest of its decoded pixels (mode, size and bytes): the same picture under another
task or URL is encoded once, a changed picture again. Vectors go through the process-wide
:data:`~labelsieve.learners.embedding_cache.EMBEDDINGS` (memory, then ``<data_dir>/embeddings/<encoder key>/`` on
disk, then the encoder), so a restart or the next round costs no forward pass for an image seen before, and a new
or changed task costs one. An encoder whose output size differs from the vectors stored under its key (weights
replaced by a network of another width) has its store deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.arrays import to_pil
from labelsieve.learners.embedding_cache import EMBEDDINGS, EmbeddingCache


def content_key(image: Any) -> str:
    """Hex blake2b digest of the decoded image (mode, size, pixels)."""
    pil = to_pil(image)
    digest = hashlib.blake2b(f"{pil.mode}:{pil.size[0]}x{pil.size[1]}:".encode(), digest_size=16)
    digest.update(pil.tobytes())
    return digest.hexdigest()


def checked_store(encoder: Any, cache: EmbeddingCache = EMBEDDINGS) -> str:
    """The encoder's store key, its stored vectors dropped first when their size is not the encoder's."""
    model = str(encoder.key())
    store = cache.store(model)
    if store is None or store.dim is None:
        return model
    dim = int(encoder.output_dim)  # ImageEncoder measures it once per object
    if store.dim != dim:
        cache.forget(model)
    return model


def encoder_vectors(encoder: Any, images: Sequence[Any], cache: EmbeddingCache = EMBEDDINGS) -> np.ndarray:
    """float32 vectors of ``images`` (one row each, in order); only images neither cached nor stored are encoded."""
    if len(images) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    keys = [content_key(image) for image in images]
    lookup = dict(zip(keys, images, strict=True))
    model = checked_store(encoder, cache)
    return cache.encode(model, keys, lambda todo: encoder.encode([lookup[k] for k in todo]))


def missing_images(encoder: Any, images: Sequence[Any], cache: EmbeddingCache = EMBEDDINGS) -> list[str]:
    """The content keys of ``images`` that a round would encode (neither in memory nor on disk)."""
    return cache.missing(checked_store(encoder, cache), [content_key(image) for image in images])
