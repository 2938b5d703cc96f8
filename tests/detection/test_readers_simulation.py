"""COCO and Label Studio export readers (bad images skipped, bad boxes listed) and the boxes simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from labelsieve.cli import app
from labelsieve.detection.coords import pixels_to_percent
from labelsieve.detection.readers import DetectionDataError, load_coco, load_label_studio_boxes, write_coco
from labelsieve.detection.synthetic import RARE, make_shapes
from labelsieve.simulate.detection import BoxSimulationConfig, BoxSimulationError, run_box_simulation


def test_generated_set_has_a_rare_class_and_empty_images() -> None:
    data = make_shapes(300, seed=0)
    counts = {name: sum(t.labels.count(name) for t in data.targets) for name in data.classes}
    assert 0 < counts[RARE] < min(v for k, v in counts.items() if k != RARE) / 4
    assert any(len(t) == 0 for t in data.targets)
    for image, target in zip(data.images, data.targets, strict=True):
        assert image.size == (64, 64) and ((target.boxes >= 0) & (target.boxes <= 64)).all()


def test_coco_round_trip_skips_an_image_that_does_not_decode(tmp_path: Path) -> None:
    data = make_shapes(6, seed=1)
    path = write_coco(data, tmp_path)
    (tmp_path / "img00002.png").write_bytes(b"not a png")
    coco = json.loads(path.read_text())
    coco["annotations"].append({"id": 999, "image_id": 1, "category_id": 1, "bbox": [60, 60, 30, 30], "iscrowd": 0})
    path.write_text(json.dumps(coco))
    loaded = load_coco(path)
    assert len(loaded.dataset) == 5 and "image 2" in loaded.skipped[0] and "does not decode" in loaded.skipped[0]
    assert len(loaded.rejected) == 1 and "outside the image" in loaded.rejected[0]
    kept = [t for i, t in enumerate(data.targets) if i != 1]
    for got, want in zip(loaded.dataset.targets, kept, strict=True):
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-4)
        assert got.labels == want.labels


def test_label_studio_export_with_local_files(tmp_path: Path) -> None:
    data = make_shapes(4, seed=2)
    (tmp_path / "images").mkdir()
    tasks = []
    for i, (image, target) in enumerate(zip(data.images, data.targets, strict=True)):
        image.save(tmp_path / "images" / f"{i}.png")
        result = [pixels_to_percent(b, n, image_width=64, image_height=64, from_name="box", to_name="img")
                  for b, n in zip(target.boxes, target.labels, strict=True)]
        if i == 0:
            result.append({**result[0], "value": {**result[0]["value"], "rotation": 15}} if result else {})
        tasks.append({"id": i, "data": {"image": f"/data/local-files/?d=images/{i}.png"},
                      "annotations": [{"result": result, "was_cancelled": False}]})
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    loaded = load_label_studio_boxes(path, image_root=tmp_path)
    assert len(loaded.dataset) == 4
    for got, want in zip(loaded.dataset.targets, data.targets, strict=True):
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-3)
    assert loaded.rejected and "task 0" in loaded.rejected[0]
    with pytest.raises(DetectionDataError, match="no rectanglelabels"):
        (tmp_path / "choices.json").write_text(json.dumps([{"data": {}, "annotations": [{"result": [
            {"type": "choices", "value": {"choices": ["a"]}}]}]}]))
        load_label_studio_boxes(tmp_path / "choices.json")


@pytest.mark.slow
def test_simulation_counts_images_and_boxes() -> None:
    data = make_shapes(30, seed=4)
    config = BoxSimulationConfig(strategies=("sum", "ls_example", "mc_dropout"), initial=6, batch_size=6, budget=12,
                                 seeds=1, learner_params={"epochs": 1, "min_steps": 4})
    scored: list[tuple[int, str, dict]] = []
    report = run_box_simulation(data, config, on_round=lambda *point: scored.append(point))
    assert set(report["strategies"]) == {"sum", "ls_example", "mc_dropout", "random"}
    # every round is handed out as soon as it is scored, the full-data reference first
    assert scored[0][:2] == (0, "full_data") and len(scored) == 1 + 4 * 2
    for name, curves in report["strategies"].items():
        (curve,) = curves
        assert [p for _, n, p in scored if n == name] == curve
        # the seed-set round is fit once and shared: identical for every ranking
        assert curve[0] == report["strategies"]["random"][0][0]
        assert [p["images"] for p in curve] == [6, 12]
        assert curve[0]["boxes"] <= curve[1]["boxes"] and 0 <= curve[1]["map_50"] <= 1
    assert {row["strategy"] for row in report["savings"]} == {"sum", "ls_example", "mc_dropout", "random"}
    with pytest.raises(BoxSimulationError, match="unknown ranking"):
        run_box_simulation(data, BoxSimulationConfig(strategies=("entropy",)))


@pytest.mark.slow
def test_cli_simulate_boxes_on_a_coco_file(tmp_path: Path) -> None:
    path = write_coco(make_shapes(24, seed=5), tmp_path / "coco")
    result = CliRunner().invoke(app, [
        "simulate", "--task-type", "boxes", "--dataset", str(path), "--strategies", "max", "--initial", "6",
        "--batch-size", "6", "--budget", "12", "--seeds", "1", "--learner-params", '{"epochs": 1, "min_steps": 4}',
        "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "boxes_report.json").read_text())
    assert report["strategies"]["max"][0][-1]["images"] == 12
    bad = CliRunner().invoke(app, ["simulate", "--task-type", "boxes", "--dataset", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and "neither" in bad.output
