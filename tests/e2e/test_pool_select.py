"""``labelsieve select`` against a real Label Studio 1.23.2: picks become tasks with rank predictions, and the
next round trains on their annotations and picks among the items not imported yet."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from labelsieve.cli import app
from labelsieve.learners.vector import VectorLearner
from labelsieve.strategies.uncertainty import Margin
from tests.e2e.helpers import TEXT_CONFIG, annotate
from tests.harness.labelstudio import LabelStudioServer

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]
LABELS = ("sports", "weather", "food")


def _pool(folder: Path, n: int = 3000) -> tuple[np.ndarray, list[str]]:
    from labelsieve.pool.synthetic import embedding_table

    rng = np.random.default_rng(5)
    centres = 3.0 * rng.standard_normal((3, 8))
    cluster = rng.integers(0, 3, n)
    vectors = (centres[cluster] + rng.standard_normal((n, 8))).astype(np.float32)
    folder.mkdir()
    for index, part in enumerate(np.array_split(np.arange(n), 3)):
        table = embedding_table(np.arange(n)[part] + 10_000, vectors[part],
                                text=np.array([f"item {i} of the pool" for i in part]))
        pq.write_table(table, folder / f"part{index}.parquet", row_group_size=400)
    return vectors, [LABELS[c] for c in cluster]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _pool_tasks(ls: LabelStudioServer, pid: int) -> list[dict]:
    tasks = ls.api("GET", f"/api/projects/{pid}/export", params={"exportType": "JSON",
                                                                  "download_all_tasks": "true"}).json()
    return sorted(tasks, key=lambda t: t["id"])


def test_select_imports_ranked_tasks_and_the_next_round_learns_from_their_annotations(
        label_studio: LabelStudioServer, tmp_path: Path) -> None:
    vectors, truth = _pool(tmp_path / "pool")
    pid = int(label_studio.api("POST", "/api/projects", json={"title": "pool rounds",
                                                              "label_config": TEXT_CONFIG}).json()["id"])
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.token}
    runner = CliRunner()
    common = ["select", "--pool", str(tmp_path / "pool"), "--label-studio-project", str(pid)]

    first = runner.invoke(app, [*common, "--strategy", "coreset", "--n", "12", "--out", str(tmp_path / "r1.csv")],
                          env=env)
    assert first.exit_code == 0, first.output
    picks = _read(tmp_path / "r1.csv")
    assert [int(p["rank"]) for p in picks] == list(range(1, 13))
    tasks = _pool_tasks(label_studio, pid)
    assert [t["data"]["pool_id"] for t in tasks] == [int(p["id"]) for p in picks]  # imported in pick order
    for task, pick in zip(tasks, picks, strict=True):
        assert task["data"]["text"] == f"item {int(pick['id']) - 10_000} of the pool"
        [prediction] = label_studio.api("GET", "/api/predictions/", params={"task": task["id"]}).json()
        assert prediction["score"] == float(pick["rank"])

    annotated = {}
    for task in tasks:
        label = truth[task["data"]["pool_position"]]
        annotate(label_studio, task["id"], label)
        annotated[task["data"]["pool_position"]] = label
    assert len(set(annotated.values())) >= 2

    second = runner.invoke(app, [*common, "--strategy", "margin", "--n", "10", "--out", str(tmp_path / "r2.csv")],
                           env=env)
    assert second.exit_code == 0, second.output
    assert "12 annotated; trained vector on 12 annotations" in " ".join(second.output.split())  # rich wraps lines
    picks2 = _read(tmp_path / "r2.csv")
    first_ids = {int(p["id"]) for p in picks}
    assert not first_ids & {int(p["id"]) for p in picks2}

    # the same round by hand: the learner on the 12 annotated embeddings, margin over the items not imported
    positions = sorted(annotated)
    learner = VectorLearner().fit(vectors[positions], [annotated[p] for p in positions])
    rest = np.setdiff1d(np.arange(len(vectors)), [i - 10_000 for i in first_ids])
    scores = Margin().score(_ctx(vectors[rest], learner))
    expected = rest[np.argsort(-scores, kind="stable")[:10]] + 10_000
    assert [int(p["id"]) for p in picks2] == expected.tolist()

    tasks = _pool_tasks(label_studio, pid)
    assert len(tasks) == 22
    new = [t for t in tasks if t["data"]["pool_id"] not in first_ids]
    for task in new:
        [prediction] = label_studio.api("GET", "/api/predictions/", params={"task": task["id"]}).json()
        assert prediction["result"][0]["value"]["choices"][0] in LABELS  # the model's label as a pre-annotation
    assert sorted(p["score"] for t in new for p in label_studio.api(
        "GET", "/api/predictions/", params={"task": t["id"]}).json()) == [float(r) for r in range(1, 11)]


def _ctx(vectors: np.ndarray, learner: VectorLearner):
    from labelsieve.strategies.base import PoolContext

    return PoolContext(pool=vectors, learner=learner, rng=np.random.default_rng(0))
