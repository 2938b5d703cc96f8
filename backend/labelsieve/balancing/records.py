"""Storing synthetic samples: PNG files next to the model artifact plus ``SyntheticSample`` rows.

Synthetic images never become tasks or annotations, so nothing that reads those tables
(``/predict``, the Label Studio push, savings figures) can see them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from labelsieve.balancing.base import SyntheticBatch
from labelsieve.storage.models import SyntheticSample


def save_synthetic(
    session: Session, *, project_id: int, version: str, batch: SyntheticBatch, directory: Path,
) -> list[SyntheticSample]:
    """Write each image of ``batch`` as ``directory/NNNNN.png`` and add one row per image."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (image, label) in enumerate(zip(batch.images, batch.labels, strict=True)):
        path = directory / f"{i:05d}.png"
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
        quality = float(batch.confidence[i]) if i < len(batch.confidence) else float("nan")
        row = SyntheticSample(
            project_id=project_id, model_version=version, label=label, synthesizer=batch.generator,
            quality=None if np.isnan(quality) else quality, artifact=str(path),
        )
        session.add(row)
        rows.append(row)
    return rows


def list_synthetic(session: Session, *, project_id: int) -> list[SyntheticSample]:
    statement = select(SyntheticSample).where(col(SyntheticSample.project_id) == project_id)
    return list(session.exec(statement.order_by(col(SyntheticSample.id))))


def balancing_summary(info: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe part of ``TrainingSet.info`` recorded with the model version."""
    out: dict[str, Any] = {k: info[k] for k in ("requested", "applied", "auto_ratio", "skipped") if k in info}
    batch = info.get("synthetic")
    if isinstance(batch, SyntheticBatch):
        out["synthetic"] = {"generator": batch.generator, "kept": len(batch.labels), "rejected": batch.rejected,
                            "drawn": info.get("synthetic_drawn", len(batch.labels))}
    return out
