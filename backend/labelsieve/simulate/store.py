"""A simulation folder: ``config.json`` (the protocol), one labelsieve database per run, full-data scores.

Layout under ``--out DIR``::

    config.json                      protocol: data set, sizes, learner, seeds, strategies
    runs/<strategy>__seed<k>/        one project in its own SQLite DB (tasks, annotations,
                                     model versions, query rounds) plus its model artifacts,
      heldout/<labels>.npz           the round's test-set probabilities (float16), classes, truth
    runs/__full__seed<k>.json        the full-data model's held-out scores for seed k
    report.json, report.html

A rerun with the same protocol continues from what is stored (resume); a different protocol is
refused rather than mixed into the same curves. JSON files are written atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.storage.json_files import write_json_atomic as write_json_file

FULL_DATA = "__full__"  # the full-data reference model of a seed
PROTOCOL_KEYS = ("dataset", "initial", "batch_size", "budget", "learner", "learner_params", "balancing",
                 "balancing_params", "test_fraction", "base_seed", "test_dataset",
                 "initial_sampling")
PROTOCOL_DEFAULTS = {"initial_sampling": "stratified"}  # folders written before a key existed used its default


class StoreError(ValueError):
    """The output folder holds runs that do not match this simulation."""


def write_json_atomic(path: Path, payload: Any) -> None:
    """The simulation's result files: indented, written atomically."""
    write_json_file(path, payload, indent=1)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = root / "runs"

    def run_dir(self, strategy: str, seed: int) -> Path:
        return self.runs / f"{_slug(strategy)}__seed{seed}"

    def database_url(self, strategy: str, seed: int) -> str:
        return f"sqlite:///{(self.run_dir(strategy, seed) / 'run.sqlite3').as_posix()}"

    def has_run(self, strategy: str, seed: int) -> bool:
        return (self.run_dir(strategy, seed) / "run.sqlite3").exists()

    def full_path(self, seed: int) -> Path:
        return self.runs / f"{FULL_DATA}seed{seed}.json"

    def open(self, config: dict[str, Any]) -> None:
        """Start or resume: refuse a folder whose stored protocol differs from ``config``."""
        path = self.root / "config.json"
        if path.exists():
            stored = self.config()
            changed = [k for k in PROTOCOL_KEYS
                       if stored.get(k, PROTOCOL_DEFAULTS.get(k)) != config.get(k, PROTOCOL_DEFAULTS.get(k))]
            if changed:
                details = "; ".join(f"{k}: stored {stored.get(k)!r}, now {config.get(k)!r}" for k in changed)
                raise StoreError(f"{self.root} holds runs made with other settings ({details}). "
                                 "Use another --out folder, or --restart to discard them.")
            strategies = list(dict.fromkeys([*stored.get("strategies", []), *config["strategies"]]))
            seeds = sorted(set(stored.get("seeds", [])) | set(config["seeds"]))
            config = {**config, "strategies": strategies, "seeds": seeds}
        write_json_atomic(path, config)

    def config(self) -> dict[str, Any]:
        path = self.root / "config.json"
        if not path.exists():
            raise StoreError(f"{self.root} has no config.json: not a labelsieve simulation folder")
        return json.loads(path.read_text())

    def has_full(self, seed: int) -> bool:
        return self.full_path(seed).exists()

    def save_full(self, seed: int, record: dict[str, Any]) -> None:
        write_json_atomic(self.full_path(seed), record)

    def load_full(self, seed: int) -> dict[str, Any]:
        return json.loads(self.full_path(seed).read_text())

    def heldout_path(self, strategy: str, seed: int, n_labels: int) -> Path:
        return self.run_dir(strategy, seed) / "heldout" / f"{int(n_labels)}.npz"

    def save_heldout(self, strategy: str, seed: int, n_labels: int, *, proba: np.ndarray, classes: list[str],
                     truth: list[str]) -> None:
        """One round's test-set probabilities (float16 keeps a 1,000 x 20 round at 40 kB), written atomically."""
        path = self.heldout_path(strategy, seed, n_labels)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez_compressed(tmp, proba=np.asarray(proba, dtype=np.float16), classes=np.asarray(classes, dtype=str),
                            truth=np.asarray(truth, dtype=str))
        os.replace(tmp, path)

    def load_heldout(self, strategy: str, seed: int, n_labels: int) -> dict[str, Any] | None:
        """``{proba, classes, truth}`` of one round, or None (a run stored before these were kept)."""
        path = self.heldout_path(strategy, seed, n_labels)
        if not path.exists():
            return None
        with np.load(path) as data:
            return {"proba": data["proba"].astype(np.float64), "classes": data["classes"].tolist(),
                    "truth": data["truth"].tolist()}

    def clear(self) -> None:
        shutil.rmtree(self.runs, ignore_errors=True)
        for name in ("config.json", "report.json", "report.html"):
            (self.root / name).unlink(missing_ok=True)
