"""Model artifacts on disk, written atomically.

A learner writes its files (safetensors tensors + JSON, never pickle) into a fresh temporary
directory beside the target; the directory is fsynced and renamed into place in one step, so a
crash mid-write leaves at most an orphaned ``.tmp-*`` directory and never a half-written model.
The database row that points at the directory is committed only after the rename.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

MANIFEST = "learner.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    """Directory layout: ``<root>/project-<id>/<version>/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, project_id: int, version: str) -> Path:
        return self.root / f"project-{project_id}" / version

    def save(self, project_id: int, version: str, learner: Any, learner_name: str) -> Path:
        """Write ``learner`` (which implements ``save(directory)``) atomically; return its path."""
        target = self.path_for(project_id, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            learner.save(tmp)
            write_json(tmp / MANIFEST, {"learner": learner_name, "params": learner.get_params()})
            for file in tmp.rglob("*"):
                if file.is_file():
                    with open(file, "rb") as handle:
                        os.fsync(handle.fileno())
            _fsync_dir(tmp)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def manifest(self, path: Path) -> dict[str, Any]:
        return read_json(Path(path) / MANIFEST)

    def remove_orphans(self) -> int:
        """Delete ``.tmp-*`` directories left by a crash mid-write."""
        removed = 0
        if not self.root.exists():
            return 0
        for tmp in self.root.glob("project-*/.tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
        return removed


def write_json(path: Path, payload: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=_json_default)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_arrays(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    save_file({key: np.ascontiguousarray(value) for key, value in arrays.items()}, str(path), metadata=metadata)


def write_arrays_atomic(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file beside ``path``, fsync it, and rename it into place in one step."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write_arrays(tmp, arrays, metadata)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    return load_file(str(path))


def read_array_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="np") as handle:
        return dict(handle.metadata() or {})


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
