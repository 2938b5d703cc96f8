"""Storing synthetic samples: PNG files next to the model artifact plus ``SyntheticSample`` rows.

Synthetic images never become tasks or annotations, so nothing that reads those tables
(``/predict``, the Label Studio push, savings figures) can see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from labelsieve.storage.models import SyntheticSample


def save_synthetic(
    *, session: Session, project_id: int, version: str, images: Sequence[np.ndarray], labels: Sequence[str],
    confidence: Sequence[float], generator: str, directory: Path,
) -> list[SyntheticSample]:
    """Write each image as ``directory/NNNNN.png`` and add one row per image (its label, generator and quality)."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = directory / f"{i:05d}.png"
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
        quality = float(confidence[i]) if i < len(confidence) else float("nan")
        row = SyntheticSample(
            project_id=project_id, model_version=version, label=label, synthesizer=generator,
            quality=None if np.isnan(quality) else quality, artifact=str(path),
        )
        session.add(row)
        rows.append(row)
    return rows


def list_synthetic(*, session: Session, project_id: int) -> list[SyntheticSample]:
    statement = select(SyntheticSample).where(col(SyntheticSample.project_id) == project_id)
    return list(session.exec(statement.order_by(col(SyntheticSample.id))))
