"""The project page's "Model and features" section: the serving model's own choice and reason (``learner_choice``),
an image project's encoder and the pool's encoding progress (``image_features``), and the tasks whose media did not
load (``input_errors``)."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc


def model_section(status: dict[str, Any]) -> str:
    parts: list[str] = []
    choice = status.get("learner_choice")
    if choice:
        parts.append(f"<p>The serving model: <b>{esc(choice)}</b>.</p>")
    features = status.get("image_features")
    if features:
        encoder, total, encoded = features.get("encoder"), features.get("total"), features.get("encoded")
        reads = "the encoder's vectors" if features.get("next_round") == "encoder" else "pixels"
        job, rate = features.get("job"), features.get("images_per_second")
        parts.append(f'<p class="note">Encoder {esc(encoder)}: {encoded if encoded is not None else "?"} of '
                     f"{total} images encoded; the next round reads {reads}"
                     + (f" &middot; background encoding {esc(job)}" if job else "")
                     + (f" at {rate:.1f} images/s" if rate else "")
                     + (" &middot; the project switches to encoder vectors when it is done" if job == "running" else "")
                     + ".</p>")
        if features.get("error"):
            parts.append(f'<p class="empty">Encoding failed, the project stays on pixels: {esc(features["error"])}</p>')
    errors = status.get("input_errors")
    if errors:
        rows = "".join(f"<li>task {esc(task)}: {esc(message)}</li>" for task, message in errors["tasks"].items())
        parts.append(f'<p class="empty">{errors["count"]} task(s) skipped: their media did not load.</p>'
                     f"<ul>{rows}</ul>")
    return "".join(parts)
