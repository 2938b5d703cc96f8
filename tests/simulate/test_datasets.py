"""Every data-set kind loads into what a learner reads; an LS export keeps its lead times."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from labelsieve.simulate.datasets import load_dataset
from labelsieve.simulate.project_inputs import task_data
from labelsieve.simulate.runner import Simulation, SimulationConfig
from labelsieve.simulate.store import RunStore


def _digit_images(n: int) -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    keep = np.flatnonzero(digits.target < 2)[:n]
    return (digits.images[keep] * 255 / 16).astype(np.uint8), digits.target[keep]


def test_csv_with_feature_columns(tmp_path: Path) -> None:
    path = tmp_path / "features.csv"
    rows = ["f1,f2,label"] + [f"{i % 7},{(i * 3) % 5},{'a' if i % 2 else 'b'}" for i in range(40)]
    path.write_text("\n".join(rows))
    data = load_dataset(str(path))
    assert data.kind == "vector" and len(data) == 40 and data.classes == ["a", "b"]
    assert task_data(data, "vector")[1] == {"image": [1.0, 3.0]}


def test_csv_with_a_text_column(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("review,sentiment\n" + "\n".join(
        f"\"{'great fun' if i % 2 else 'dull and slow'} {i}\",{'pos' if i % 2 else 'neg'}" for i in range(30)))
    data = load_dataset(str(path), label_column="sentiment")
    assert data.kind == "text" and data.items[1] == "great fun 1" and data.labels[1] == "pos"


def test_image_folder_written_from_digits(tmp_path: Path) -> None:
    images, labels = _digit_images(20)
    for k, (image, label) in enumerate(zip(images, labels, strict=True)):
        (tmp_path / "digits" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "digits" / str(label) / f"{k}.png")
    data = load_dataset(str(tmp_path / "digits"))
    assert data.kind == "image" and len(data) == 20 and data.classes == ["0", "1"]
    assert data.items[0].shape == (32, 32, 3)


def test_label_studio_export_runs_a_simulation_with_lead_times(tmp_path: Path) -> None:
    images, labels = _digit_images(60)
    tasks = []
    for k, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(tmp_path / f"{k}.png")
        tasks.append({"id": k + 1, "data": {"image": f"/data/local-files/?d={k}.png"}, "annotations": [
            {"id": k + 1, "was_cancelled": False, "lead_time": 2.0 + (k % 3),
             "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                         "value": {"choices": [f"digit {label}"]}}]}]})
    tasks.append({"id": 999, "data": {"image": "/data/local-files/?d=0.png"}, "annotations": [
        {"id": 999, "was_cancelled": True, "result": []}]})  # skipped: not a label
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    data = load_dataset(str(export))
    assert data.kind == "image" and len(data) == 60 and data.classes == ["digit 0", "digit 1"]
    assert data.lead_times is not None and data.lead_times[:3].tolist() == [2.0, 3.0, 4.0]

    from labelsieve.report.build import build_report

    config = SimulationConfig(strategies=("margin",), initial=4, batch_size=4, budget=12, seeds=2)
    Simulation(dataset=data, config=config, store=RunStore(tmp_path / "run")).run()
    report = build_report(tmp_path / "run")
    assert report["protocol"]["learner"] == "auto_image"  # the same auto as the service (learners/auto.py)
    assert all(row["annotation_seconds_saved"] is not None for row in report["savings"] if row["target"] == 0.9)

    # balancing goes through the project settings; oversampled copies train the model but are not labels
    balanced = SimulationConfig(strategies=("margin",), initial=4, batch_size=4, budget=12, seeds=1,
                                balancing="random_over")
    Simulation(dataset=data, config=balanced, store=RunStore(tmp_path / "balanced")).run()
    report = build_report(tmp_path / "balanced")
    assert report["protocol"]["balancing"] == "random_over"
    assert report["strategies"]["margin"]["grid"] == [4, 8, 12]
