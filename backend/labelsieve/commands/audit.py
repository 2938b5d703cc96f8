"""``labelsieve audit``: duplicates and leakage, outliers, blank inputs, distributions, non-IID order.

- ``--project 3``: a live project's labelled tasks and pool (``GET /projects/{id}/audit`` computes the same);
- ``--dataset digits [--test-dataset test.csv]``: a data set (and a test set: leakage between them), on the
  features of the learner fitted on it;
- ``--run out/``: what ``labelsieve simulate`` found for each seed's split (stored with the run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from labelsieve.quality.audit import audit
from labelsieve.quality.projectaudit import project_audit
from labelsieve.registry import get_registries
from labelsieve.service.container import build_service
from labelsieve.settings import Settings
from labelsieve.simulate.dataset_base import DatasetError
from labelsieve.simulate.datasets import load_dataset
from labelsieve.simulate.project_inputs import resolve_learner
from labelsieve.simulate.store import RunStore, StoreError


def dataset_audit(spec: str, test_spec: str | None, learner: str) -> dict[str, Any]:
    data = load_dataset(spec)
    test = load_dataset(test_spec) if test_spec else None
    choice = resolve_learner(learner, data)
    model = get_registries().learners.create(choice.learner, dict(choice.params))
    items = list(data.inputs_for(model.input_kind))
    model.fit(items, [str(v) for v in data.labels])
    features = [np.asarray(model.embed(items), dtype=np.float64)]
    sets, labels = ["pool"] * len(items), [str(v) for v in data.labels]
    ids = [f"{data.name}:{k}" for k in range(len(items))]
    if test is not None:
        test_items = list(test.inputs_for(model.input_kind))
        features.append(np.asarray(model.embed(test_items), dtype=np.float64))
        sets += ["test"] * len(test_items)
        labels += [str(v) for v in test.labels]
        ids += [f"{test.name}:{k}" for k in range(len(test_items))]
    return {"dataset": data.name, "test_dataset": test.name if test else None, "learner": choice.learner,
            **audit(np.vstack(features), sets=sets, labels=labels, ids=ids)}


def run_audit(out: Path) -> dict[str, Any]:
    store = RunStore(out)
    config = store.config()
    found = {str(seed): store.load_full(seed).get("audit") for seed in config["seeds"] if store.has_full(seed)}
    if not any(found.values()):
        raise StoreError(f"{out} holds no audit: it was simulated before labelsieve audited splits; rerun it")
    return {"run": str(out), "per_seed": found}


def _print(console: Console, report: dict[str, Any]) -> None:
    if "per_seed" in report:
        for seed, found in report["per_seed"].items():
            if found:
                console.print(f"seed {seed}: {found['leakage']['sentence']}")
                _counts(console, found["counts"], f"seed {seed}")
        return
    console.print(report["leakage"]["sentence"])
    _counts(console, report["counts"], f"audit of {report.get('dataset') or report.get('project_id')}")


def _counts(console: Console, counts: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    table.add_column("check")
    table.add_column("count")
    for key, value in counts.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command(name="audit")
    def audit_command(
        project: int = typer.Option(None, help="Label Studio project id (labelsieve's store under --data-dir)."),
        dataset: str = typer.Option(None, help="A data set ('digits', a .csv...) to audit."),
        test_dataset: str = typer.Option(None, help="With --dataset: a test set, checked for leakage."),
        run: Path = typer.Option(None, help="A folder `labelsieve simulate --out` wrote."),
        learner: str = typer.Option("auto", help="With --dataset: learner whose features are audited."),
        data_dir: str = typer.Option(None, help="Where labelsieve's database and models live (default ./data)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    ) -> None:
        """Duplicates within and across sets (conflicting labels, leakage), outliers, blank inputs, non-IID."""
        console = Console()
        if sum(x is not None for x in (project, dataset, run)) != 1:
            console.print("[red]error:[/] give exactly one of --project ID, --dataset NAME, --run FOLDER")
            raise typer.Exit(2)
        try:
            if dataset is not None:
                report = dataset_audit(dataset, test_dataset, learner)
            elif run is not None:
                report = run_audit(run)
            else:
                report = _project(project, data_dir)
        except (DatasetError, StoreError, LookupError, RuntimeError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(report, indent=1, default=str))
        else:
            _print(console, report)


def _project(project_id: int, data_dir: str | None) -> dict[str, Any]:
    service = build_service(Settings(start_workers=False, **({"data_dir": data_dir} if data_dir else {})))
    try:
        return project_audit(service.loop, project_id)
    finally:
        service.stop()
