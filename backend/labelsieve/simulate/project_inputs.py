"""A labelled data set as the Label Studio project a simulation replays: the learner ``auto`` resolves to, the
label config and each item as task data (what the loop's ``InputLoader`` reads)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from labelsieve.learners.auto import AutoChoice, resolve_auto
from labelsieve.settings import Settings
from labelsieve.simulate.datasets import Dataset, DatasetError


def resolve_learner(name: str, dataset: Dataset, params: dict[str, Any] | None = None,
                    settings: Settings | None = None) -> AutoChoice:
    """The learner ``name`` and its parameters for ``dataset``: ``auto`` resolves exactly as the service resolves it
    for the same data and settings (:func:`labelsieve.learners.auto.resolve_auto`: text, auto_image on the
    ``image_encoder`` of the environment's settings, vector for feature tables)."""
    image_encoder = (settings or Settings()).image_encoder
    return resolve_auto(name, dataset.kind, params or {}, image_encoder=image_encoder)


def image_data_uri(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def label_config(kind: str, classes: list[str], multiple: bool = False) -> str:
    choices = "".join(f'<Choice value="{c}"/>' for c in classes)
    tag = '<Text name="text" value="$text"/>' if kind == "text" else '<Image name="image" value="$image"/>'
    target = "text" if kind == "text" else "image"
    mode = ' choice="multiple"' if multiple else ""
    return f'<View>{tag}<Choices name="label" toName="{target}"{mode}>{choices}</Choices></View>'


def task_data(dataset: Dataset, input_kind: str) -> list[dict[str, Any]]:
    """Each item as Label Studio task data for a learner of ``input_kind`` (what the loop's InputLoader reads)."""
    if input_kind == "text" and dataset.kind == "text":
        return [{"text": str(item)} for item in dataset.items]
    if input_kind == "image" and dataset.kind == "image":
        return [{"image": image_data_uri(item)} for item in dataset.items]
    if input_kind == "vector" and dataset.kind in ("vector", "image"):
        return [{"image": np.asarray(item, dtype=np.float32).reshape(-1).round(6).tolist()} for item in dataset.items]
    raise DatasetError(
        f"the learner reads {input_kind} inputs but data set {dataset.name!r} holds {dataset.kind} items; "
        f"use --learner {'text' if dataset.kind == 'text' else 'vector (or image for image folders)'}")
