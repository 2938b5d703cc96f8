"""Model artifacts are written atomically: a crash mid-write never corrupts what is serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.learners.vector import VectorLearner
from labelsieve.storage.artifacts import ArtifactStore


class ExplodingLearner(VectorLearner):
    def save(self, directory: Path) -> None:
        super().save(directory)
        raise OSError("disk full (simulated)")


def _fit(cls: type[VectorLearner]) -> VectorLearner:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return cls().fit(list(X), ["a" if x[0] > 0 else "b" for x in X])


def test_failed_write_leaves_the_previous_model_intact(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    good = _fit(VectorLearner)
    path = store.save(1, "v1", good, "vector")
    assert store.manifest(path)["learner"] == "vector"
    with pytest.raises(OSError, match="disk full"):
        store.save(1, "v2", _fit(ExplodingLearner), "vector")
    assert not store.path_for(1, "v2").exists()
    assert not list((tmp_path / "project-1").glob(".tmp-*"))
    loaded = VectorLearner.load(path)
    np.testing.assert_allclose(loaded.predict_proba([[1.0, 0, 0]]), good.predict_proba([[1.0, 0, 0]]),
                               rtol=1e-5, atol=1e-6)


def test_orphaned_temp_dirs_from_a_crash_are_removed(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    (tmp_path / "project-1" / ".tmp-abc").mkdir(parents=True)
    assert store.remove_orphans() == 1
    assert not (tmp_path / "project-1" / ".tmp-abc").exists()
