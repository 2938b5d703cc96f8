"""The on-disk embedding store, the cache reading through it, and the background encoding job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.learners.embedding_store import EmbeddingStore, model_key
from labelsieve.service.embedding_job import EmbeddingJob


def _vectors(texts: list[str], dim: int = 8) -> np.ndarray:
    """A deterministic vector per text (seeded by the text), as an encoder would give."""
    return np.stack([np.random.default_rng(sum(map(ord, t)) + len(t)).standard_normal(dim) for t in texts]
                    ).astype(np.float32)


def test_round_trip_and_a_restart_reads_the_vectors_back(tmp_path: Path) -> None:
    texts = [f"review number {i}" for i in range(50)]
    store = EmbeddingStore(tmp_path / "m")
    assert store.put(texts[:30], _vectors(texts[:30])) == 30
    assert store.put(texts[20:], _vectors(texts[20:])) == 20  # the 10 already stored are not stored twice
    found, vectors = store.get(["not stored", *texts])
    assert found.tolist() == [False] + [True] * 50
    np.testing.assert_allclose(vectors, _vectors(texts), atol=2e-3)  # float16 on disk

    again = EmbeddingStore(tmp_path / "m")  # a restart: a new store object on the same folder
    assert len(again) == 50 and again.dim == 8
    found, back = again.get(texts)
    assert found.all()
    np.testing.assert_array_equal(back, vectors)
    assert again.count_missing([*texts, "new one", "new one"]) == 1


def test_a_corrupt_or_torn_segment_is_ignored_never_served(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path / "m")
    good, bad, torn = ["a", "b"], ["c", "d"], ["e"]
    store.put(good, _vectors(good))
    store.put(bad, _vectors(bad))
    store.put(torn, _vectors(torn))
    segments = sorted((tmp_path / "m").glob("seg-*.bin"))
    assert len(segments) == 3
    data = bytearray(segments[1].read_bytes())
    data[-10] ^= 0xFF  # one flipped byte inside a vector
    segments[1].write_bytes(bytes(data))
    segments[2].write_bytes(segments[2].read_bytes()[:-7])  # a write cut short
    (tmp_path / "m" / "seg-00000009.tmp").write_bytes(b"half a segment")  # never renamed into place

    reopened = EmbeddingStore(tmp_path / "m")
    found, vectors = reopened.get(good + bad + torn)
    assert found.tolist() == [True, True, False, False, False]
    np.testing.assert_allclose(vectors, _vectors(good), atol=2e-3)
    assert reopened.skipped == [segments[1].name, segments[2].name]
    assert reopened.put(bad, _vectors(bad)) == 2  # encoded again, into a new segment, and then served
    assert EmbeddingStore(tmp_path / "m").get(bad)[0].all()


def test_the_row_bound_is_honoured(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path / "m", max_rows=5)
    texts = [f"t{i}" for i in range(8)]
    assert store.put(texts[:3], _vectors(texts[:3])) == 3
    assert store.put(texts[3:], _vectors(texts[3:])) == 2
    assert len(store) == 5 and store.put(["t9"], _vectors(["t9"])) == 0
    assert len(EmbeddingStore(tmp_path / "m", max_rows=5)) == 5
    assert len(EmbeddingStore(tmp_path / "m", max_rows=4)) == 4  # a lower bound after a restart is honoured too


def test_a_vector_of_another_size_is_refused(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path / "m")
    store.put(["a"], _vectors(["a"], dim=8))
    with pytest.raises(ValueError, match="8-d"):
        store.put(["b"], _vectors(["b"], dim=4))


def test_the_cache_reads_through_the_store_and_encodes_each_text_once(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return _vectors(texts)

    cache = EmbeddingCache()
    cache.attach(tmp_path / "embeddings")
    first = cache.encode("/models/mini", ["x", "y", "x"], encode)
    assert calls == [["x", "y"]] and first.shape == (3, 8)
    assert cache.missing("/models/mini", ["x", "z"]) == ["z"]

    restarted = EmbeddingCache()  # a new process: memory empty, the store on disk
    restarted.attach(tmp_path / "embeddings")
    assert restarted.missing("/models/mini", ["x", "y", "z"]) == ["z"]
    again = restarted.encode("/models/mini", ["y", "z", "x"], encode)
    assert calls[-1] == ["z"]  # only the new text went to the encoder
    np.testing.assert_array_equal(again[[0, 2]], first[[1, 0]])  # the same vectors as before the restart
    assert (tmp_path / "embeddings" / model_key("/models/mini")).is_dir()


def test_the_job_encodes_what_the_store_lacks_in_batches_and_reports(tmp_path: Path) -> None:
    cache = EmbeddingCache()
    cache.attach(tmp_path / "embeddings")
    cache.encode("m", ["t0", "t1"], _vectors)  # already stored: not encoded again
    batches: list[int] = []
    done: list[int] = []

    def factory(model: str):
        assert model == "m"
        return lambda texts: batches.append(len(texts)) or _vectors(texts)

    texts = [f"t{i}" for i in range(25)]
    job = EmbeddingJob(project_id=7, model="m", texts=texts, cache=cache, on_done=done.append,
                       encoder_factory=factory, batch=10)
    job.start()
    assert job.join(30)
    progress = job.progress()
    assert batches == [10, 10, 3] and done == [7]
    assert (progress.state, progress.encoded, progress.total, progress.error) == ("done", 25, 25, None)
    assert progress.texts_per_second is not None and progress.texts_per_second > 0
    assert cache.missing("m", texts) == []
    assert len(EmbeddingStore(tmp_path / "embeddings" / model_key("m"))) == 25  # on disk, for a restart


def test_a_job_whose_encoder_fails_reports_the_error_and_asks_for_nothing(tmp_path: Path) -> None:
    cache = EmbeddingCache()
    cache.attach(tmp_path / "embeddings")
    done: list[int] = []
    job = EmbeddingJob(project_id=3, model=str(tmp_path / "no-such-model"), texts=["a", "b"], cache=cache,
                       on_done=done.append)  # the real loader: the model folder is missing
    job.start()
    assert job.join(60)
    progress = job.progress()
    assert progress.state == "failed" and done == []
    assert progress.error is not None and "does not exist" in progress.error
