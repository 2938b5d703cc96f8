"""``labelsieve simulate --task-type boxes``: the oracle loop for detection data (generated shapes, COCO, LS export)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from labelsieve.detection.readers import DetectionDataError, LoadedDetection, load_coco, load_label_studio_boxes
from labelsieve.detection.synthetic import make_shapes
from labelsieve.simulate.detection import BoxSimulationConfig, run_box_simulation

console = Console()
GENERATED = "shapes"


def load_boxes_dataset(spec: str, *, image_root: Path | None = None, data_key: str | None = None) -> LoadedDetection:
    """``shapes`` or ``shapes:N`` (generated), a COCO ``.json`` (a dict with images/annotations/categories) or a
    Label Studio JSON export (a list of tasks) with rectangles."""
    if spec == GENERATED or spec.startswith(GENERATED + ":"):
        count = int(spec.split(":", 1)[1]) if ":" in spec else 300
        return LoadedDetection(make_shapes(count, seed=12345))
    path = Path(spec)
    if path.suffix.lower() != ".json":
        raise DetectionDataError(f"{spec!r} is neither {GENERATED!r} nor a .json file (COCO or Label Studio export)")
    try:
        head = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DetectionDataError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise DetectionDataError(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(head, dict):
        return load_coco(path, image_root=image_root)
    return load_label_studio_boxes(path, image_root=image_root, data_key=data_key)


def print_box_savings(report: dict[str, Any], fraction: float) -> None:
    full = sum(f["map_50"] for f in report["full_data"]) / len(report["full_data"])
    table = Table(title=f"labels to {fraction:.0%} of the full-data mAP@0.5 ({full:.3f})")
    for column in ("ranking", "seeds reached", "images", "boxes", "mean mAP@0.5", "final mAP@0.5"):
        table.add_column(column)
    for row in report["savings"]:
        table.add_row(row["strategy"], f"{row['seeds_reached']}/{row['seeds']}",
                      "-" if row["images"] is None else f"{row['images']:.1f}",
                      "-" if row["boxes"] is None else f"{row['boxes']:.1f}",
                      f"{row['mean_map_50']:.3f}", f"{row['final_map_50']:.3f}")
    console.print(table)


def simulate_boxes(*, dataset: str, strategies: tuple[str, ...], initial: int | None, batch_size: int, budget: int,
                   seeds: int, test_fraction: float, base_seed: int, learner_params: dict[str, Any],
                   image_root: Path | None, data_key: str | None, out: Path) -> Path:
    loaded = load_boxes_dataset(dataset, image_root=image_root, data_key=data_key)
    for line in loaded.skipped + loaded.rejected:
        console.print(f"[yellow]skipped:[/yellow] {line}", highlight=False)
    if len(loaded.dataset) == 0:
        raise DetectionDataError(f"{dataset}: no usable image")
    config = BoxSimulationConfig(
        strategies=strategies, initial=initial or batch_size, batch_size=batch_size, budget=budget, seeds=seeds,
        test_fraction=test_fraction, base_seed=base_seed, learner_params=learner_params,
    )
    report = run_box_simulation(loaded.dataset, config, progress=lambda line: console.print(line, highlight=False))
    report["skipped"], report["rejected"] = loaded.skipped, loaded.rejected
    out.mkdir(parents=True, exist_ok=True)
    path = out / "boxes_report.json"
    path.write_text(json.dumps(report, indent=1))
    print_box_savings(report, config.target_fraction)
    console.print(f"wrote {path}")
    return path
