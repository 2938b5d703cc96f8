"""The device setting reaches the pool's scoring workers: the Ray engine reserves a GPU per worker only when the
device allows it and the cluster has one, and each worker scores on the device it was given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelsieve.devices import device_scope
from labelsieve.learners.vector import VectorLearner
from labelsieve.pool.engine import BlockScorer, ScoreJob, make_engine
from labelsieve.pool.model import bundle_learner
from labelsieve.pool.source import open_pool
from labelsieve.pool.synthetic import write_clustered_pool

ray_engine = pytest.importorskip("labelsieve.pool.ray_engine")


@pytest.fixture
def small_job(tmp_path: Path) -> tuple[list[dict], ScoreJob]:
    write_clustered_pool(tmp_path, n=600, dim=8, files=2, seed=1, row_group=100)
    source = open_pool(tmp_path)
    rng = np.random.default_rng(0)
    learner = VectorLearner().fit(rng.standard_normal((30, 8)).astype(np.float32), [f"c{i % 3}" for i in range(30)])
    units = [{"path": np.array([u.path]), "row_group": np.array([u.row_group]), "offset": np.array([u.offset]),
              "rows": np.array([u.rows])} for u in source.units]
    job = ScoreJob(strategy="margin", model=bundle_learner("vector", learner), dim=8, exclude=None,
                   rng_state=np.random.default_rng(3).bit_generator.state, n=20)
    return units, job


def test_a_scoring_worker_reports_the_device_it_was_given(small_job: tuple[list[dict], ScoreJob]) -> None:
    units, job = small_job
    scorer = BlockScorer(ScoreJob(**{**job.__dict__, "device": "cpu"}))
    batch = scorer(units[0])
    assert scorer.device == "cpu" and len(batch["position"]) == 20
    assert set(batch["device"].tolist()) == {"cpu"}


def test_without_a_device_the_worker_uses_the_one_in_scope(small_job: tuple[list[dict], ScoreJob]) -> None:
    units, job = small_job
    with device_scope("cpu"):
        scorer = BlockScorer(job)
    assert scorer.device == "cpu"


@pytest.mark.parametrize(("resources", "device", "gpus", "worker"), [
    ({"CPU": 4.0, "GPU": 2.0}, "auto", 1.0, "cuda"),
    ({"CPU": 4.0, "GPU": 2.0}, "cuda:1", 1.0, "cuda"),  # inside an actor its reserved GPU is the only one visible
    ({"CPU": 4.0, "GPU": 2.0}, "cpu", 0.0, "cpu"),  # a GPU is never reserved for nothing
    ({"CPU": 4.0}, "auto", 0.0, "cpu"),
])
def test_ray_workers_reserve_a_gpu_only_when_the_device_allows_it(monkeypatch: pytest.MonkeyPatch, resources: dict,
                                                                  device: str, gpus: float, worker: str) -> None:
    monkeypatch.setattr(ray_engine.ray, "cluster_resources", lambda: resources)
    assert ray_engine.gpus_per_worker(device) == gpus
    assert ray_engine.worker_device(gpus) == worker


def test_cuda_on_a_cluster_without_gpus_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_engine.ray, "cluster_resources", lambda: {"CPU": 4.0})
    with pytest.raises(ValueError, match="'cuda' asked for, but the Ray cluster has no GPU"):
        ray_engine.gpus_per_worker("cuda")
    with pytest.raises(ValueError, match="device must be"):
        ray_engine.gpus_per_worker("gpu")


def test_make_engine_passes_the_device_to_the_ray_engine() -> None:
    assert make_engine("ray", workers=2, device="cpu").device == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_worker_given_cuda_scores_on_the_gpu_and_picks_what_the_cpu_picks(
        small_job: tuple[list[dict], ScoreJob]) -> None:
    units, job = small_job
    on_gpu = BlockScorer(ScoreJob(**{**job.__dict__, "device": "cuda"}))
    on_cpu = BlockScorer(ScoreJob(**{**job.__dict__, "device": "cpu"}))
    gpu_batch, cpu_batch = on_gpu(units[0]), on_cpu(units[0])
    assert on_gpu.device.startswith("cuda") and set(gpu_batch["device"].tolist()) == {on_gpu.device}
    assert gpu_batch["position"].tolist() == cpu_batch["position"].tolist()


def test_select_command_takes_a_device_and_names_a_misspelt_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from labelsieve.cli import app

    write_clustered_pool(tmp_path / "pool", n=300, dim=4, files=1, seed=2, row_group=100)
    common = ["select", "--pool", str(tmp_path / "pool"), "--strategy", "coreset", "--n", "5"]
    bad = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "bad.csv"), "--device", "gpu"])
    assert bad.exit_code == 2 and "device must be 'auto', 'cpu', 'cuda' or 'cuda:<n>'" in bad.output
    assert not (tmp_path / "bad.csv").exists()
    good = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "picks.csv"), "--device", "cpu"])
    assert good.exit_code == 0, good.output
    assert len((tmp_path / "picks.csv").read_text().splitlines()) == 6  # header + 5 picks
