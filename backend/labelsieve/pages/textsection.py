"""The project page's "Text features" section: the status's ``text_features`` (TF-IDF or sentence embeddings)."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc


def text_features_section(features: dict[str, Any] | None) -> str:
    if not features:
        return ""
    using = "sentence embeddings" if features.get("features") == "embeddings" else "TF-IDF"
    model = features.get("model")
    parts = [f"<p>The serving model reads <b>{using}</b>"
             + (f" (embedding model {esc(model)})" if model and using != "TF-IDF" else "") + ".</p>"]
    encoded, total = features.get("encoded"), features.get("total")
    if model and total:
        rate = features.get("texts_per_second")
        job = features.get("job")
        parts.append(f'<p class="note">Embedding store: {encoded if encoded is not None else "?"} of {total} texts '
                     f"encoded with {esc(model)}"
                     + (f" &middot; background encoding {esc(job)}" if job else "")
                     + (f" at {rate:.1f} texts/s" if rate else "")
                     + (" &middot; the project switches to embeddings when it is done" if job == "running" else "")
                     + ".</p>")
    if features.get("error"):
        parts.append(f'<p class="empty">Encoding failed, the project stays on TF-IDF: {esc(features["error"])}</p>')
    return "".join(parts)
