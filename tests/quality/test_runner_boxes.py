"""The service's quality runner on a box project: it reads the annotations' rectangles through the task type, cross-fits
the project's learner (here a double returning real detector output), runs the object-detection finder, and the rows
it stores carry boxes in percent for the review prediction. No Label Studio: the push is tested for the other kinds in
tests/e2e/test_live_region_quality.py and goes through the same payload builder."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labelsieve.detection.coords import pixels_to_percent
from labelsieve.detection.synthetic import make_shapes
from labelsieve.quality.review_payload import review_payload
from labelsieve.quality.scorecard_files import load_scorecard
from labelsieve.service.quality_runner import QualityRunner
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.tasktypes import task_type_for
from tests.quality.test_region_issues import BOXES, _TruthDetector

PROJECT, VERSION, N = 5, "labelsieve-v1-test", 90


class _Host:
    """The part of the service's loop the runner reads, over a real database and artifact folder."""

    def __init__(self, root: Path, images: dict[str, Any], learner: Any) -> None:
        self.engine = make_engine(f"sqlite:///{root / 'db.sqlite'}")
        self.artifacts = ArtifactStore(root / "models")
        self.images, self.learner = images, learner
        self.registries = SimpleNamespace(learners=SimpleNamespace(create=lambda name, params: learner))
        self._served = task_type_for(BOXES)

    def project(self, project_id: int) -> Any:
        with session_scope(self.engine) as session:
            return crud.get_project(session=session, project_id=project_id)

    def settings_of(self, project: Any, config: Any = None) -> Any:
        return SimpleNamespace(settings=SimpleNamespace(label_issues=True, learner="detector", learner_params={},
                                                        seed=0))

    def serving_model(self, project: Any) -> tuple[str, Any]:
        return VERSION, self.learner

    def input_loader(self, project: Any, input_kind: str) -> Any:
        def load(datas: list[dict[str, Any]]) -> Any:
            return SimpleNamespace(inputs=[self.images[d["image"]] for d in datas], positions=list(range(len(datas))))
        return SimpleNamespace(load=load)

    def config_of(self, project: Any) -> Any:
        return self._served.config

    def served(self, label_config: str) -> Any:
        return self._served


def test_the_runner_scores_a_box_project_through_its_task_type(tmp_path: Path) -> None:
    shapes = make_shapes(N, size=64, seed=7, rare_fraction=0.25)
    images = {f"img-{i}": image for i, image in enumerate(shapes.images)}
    truth = {id(img): t for img, t in zip(shapes.images, shapes.targets, strict=True)}
    host = _Host(tmp_path, images, _TruthDetector(truth))
    given = copy.deepcopy(shapes.targets)
    swapped = [i for i, t in enumerate(given) if len(t)][:3]
    for i in swapped:
        given[i].labels[0] = next(c for c in shapes.classes if c != given[i].labels[0])
    with session_scope(host.engine) as session:
        project = crud.upsert_project(session=session, project_id=PROJECT, label_config=BOXES)
        project.model_version = VERSION
        session.add(project)
        crud.upsert_tasks(session=session, project_id=PROJECT,
                          tasks=[{"id": 100 + i, "data": {"image": f"img-{i}"}} for i in range(N)])
        for i, target in enumerate(given):
            result = [pixels_to_percent(box, label, image_width=64, image_height=64, from_name="box", to_name="img")
                      for box, label in zip(target.boxes, target.labels, strict=True)]
            crud.upsert_annotation(session=session, project_id=PROJECT, config=None,
                                   annotation={"id": 900 + i, "task": 100 + i, "result": result})
    runner = QualityRunner(host=host, client_factory=lambda _: None, api_key_of=lambda _: None)
    report = runner.run(PROJECT, VERSION)

    assert report["summary"]["gate"]["measure"] == "out-of-fold mAP@0.5" and report["summary"]["gate"]["shown"]
    rows, _ = load_scorecard(host.artifacts, PROJECT, VERSION)
    assert len(rows) == N
    flagged = {r.task_id - 100: r for r in rows if r.recommendation == "review"}
    assert set(flagged) == set(swapped)
    assert all("swapped class?" in r.reason for r in flagged.values())
    payload = {p["task"] - 100: p["result"] for p in review_payload(rows, host.config_of(None), "labelsieve-review-v1")}
    for i in swapped:
        boxes = payload[i]
        assert {b["value"]["rectanglelabels"][0] for b in boxes} == set(shapes.targets[i].labels)
        x1 = float(shapes.targets[i].boxes[0][0])
        assert any(b["value"]["x"] == pytest.approx(100 * x1 / 64, abs=0.01) for b in boxes)
