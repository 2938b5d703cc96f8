"""A fitted learner sent to workers as the files its ``save`` writes (never pickled), loaded once per worker."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.registry import get_registry


@dataclass(frozen=True)
class ModelBundle:
    """What a worker needs to rebuild the learner: its registry name and the bytes of its saved files."""

    learner: str
    files: tuple[tuple[str, bytes], ...]
    classes: tuple[str, ...]


def bundle_learner(learner_name: str, learner: Any) -> ModelBundle:
    with tempfile.TemporaryDirectory(prefix="labelsieve-model-") as folder:
        directory = Path(folder)
        learner.save(directory)
        files = tuple((p.name, p.read_bytes()) for p in sorted(directory.iterdir()) if p.is_file())
    return ModelBundle(learner=learner_name, files=files, classes=tuple(str(c) for c in learner.classes_))


def load_learner(bundle: ModelBundle) -> Any:
    cls = get_registry("learners").load(bundle.learner)
    with tempfile.TemporaryDirectory(prefix="labelsieve-model-") as folder:
        directory = Path(folder)
        for name, payload in bundle.files:
            (directory / name).write_bytes(payload)
        return cls.load(directory)


def block_outputs(learner: Any, embeddings: np.ndarray, *, probas: bool, embed: bool
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The learner's float64 probabilities and float32 embeddings of one block (as ``PoolContext`` casts them)."""
    p = np.asarray(learner.predict_proba(embeddings), dtype=np.float64) if probas else None
    e = np.asarray(learner.embed(embeddings), dtype=np.float32) if embed else None
    return p, e
