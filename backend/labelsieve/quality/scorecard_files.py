"""Scorecards as artifact files beside the model of the version they judge (no table).

``<models>/project-<id>/<version>/quality/scorecard.json`` (rows + summary) and ``scorecard.csv``; written to a
temporary file and renamed, so a reader never sees half a scorecard.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from labelsieve.quality.scorecard import ScoreRow, from_records, to_csv, to_records
from labelsieve.storage.artifacts import ArtifactStore

DIRECTORY = "quality"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def scorecard_dir(artifacts: ArtifactStore, project_id: int, version: str) -> Path:
    return artifacts.path_for(project_id, version) / DIRECTORY


def save_scorecard(artifacts: ArtifactStore, project_id: int, version: str, rows: list[ScoreRow],
                   meta: dict[str, Any]) -> Path:
    directory = scorecard_dir(artifacts, project_id, version)
    _atomic_write(directory / "scorecard.csv", to_csv(rows))
    _atomic_write(directory / "scorecard.json", json.dumps({"version": version, **meta, "rows": to_records(rows)}))
    return directory


def load_scorecard(artifacts: ArtifactStore, project_id: int, version: str) -> tuple[list[ScoreRow], dict[str, Any]]:
    """(rows worst first, meta); ``([], {})`` when the version has no scorecard (yet)."""
    path = scorecard_dir(artifacts, project_id, version) / "scorecard.json"
    if not path.exists():
        return [], {}
    body = json.loads(path.read_text(encoding="utf-8"))
    return from_records(body.pop("rows")), body


def latest_scorecard(artifacts: ArtifactStore, project_id: int, versions: list[str]
                     ) -> tuple[str | None, list[ScoreRow], dict[str, Any]]:
    """The newest of ``versions`` (oldest first) that has a scorecard: (version, rows worst first, meta)."""
    for version in reversed(versions):
        rows, meta = load_scorecard(artifacts, project_id, version)
        if meta:
            return version, rows, meta
    return None, [], {}


def scorecard_stamp(artifacts: ArtifactStore, project_id: int, versions: list[str]) -> tuple[str, int] | None:
    """(version, modification time in ns) of the newest scorecard file among ``versions``: a cheap cache key."""
    for version in reversed(versions):
        path = scorecard_dir(artifacts, project_id, version) / "scorecard.json"
        if path.exists():
            return version, path.stat().st_mtime_ns
    return None


def save_review(artifacts: ArtifactStore, project_id: int, version: str, review: dict[str, Any]) -> None:
    """What reached Label Studio for this version (written after the review predictions and the tab)."""
    _atomic_write(scorecard_dir(artifacts, project_id, version) / "review.json", json.dumps(review))


def load_review(artifacts: ArtifactStore, project_id: int, version: str) -> dict[str, Any] | None:
    path = scorecard_dir(artifacts, project_id, version) / "review.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
