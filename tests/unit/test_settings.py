"""Settings defaults a user relies on."""

from __future__ import annotations

import os

from labelsieve.settings import Settings


def test_training_leaves_one_core_for_serving(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("LABELSIEVE_TORCH_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert Settings(data_dir=tmp_path).torch_threads == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert Settings(data_dir=tmp_path).torch_threads == 1
    monkeypatch.setenv("LABELSIEVE_TORCH_THREADS", "2")
    assert Settings(data_dir=tmp_path).torch_threads == 2
