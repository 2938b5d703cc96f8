"""``labelsieve prune``: which labelled items the scorecard marks, training without them, or a simulation.

- ``labelsieve prune --project 3``: the items of the serving version's scorecard marked prune (computed now when
  the background pass has not written one yet), worst first. Nothing is changed.
- ``--apply``: also sets the project's ``prune`` setting to ``"flagged"`` in labelsieve's store and retrains now;
  the new version trains without those items and lists them (``GET /projects/{id}/issues``,
  ``pruned_annotations``). Nothing is deleted in Label Studio. (Label Studio's extra params win again at the next
  ``/setup``: put ``"prune": "flagged"`` there to keep it.)
- ``--keep-top 0.85``: instead of the prune marks, the items outside the top 85% by the scorecard's value (the
  lowest values); with ``--apply`` the setting becomes ``{"keep_top": 0.85}``. It lowered accuracy on clean labels
  (``benchmarks/results/pruning.md``).
- ``--simulate digits --noise sym10``: corrupts a data set's labels, scores them and reports detection and the
  clean-test accuracy of training on all / minus flagged / minus random / minus lowest-value / minus prune.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from labelsieve.quality.experiment import pruning_experiment
from labelsieve.quality.pruning import keep_top_count
from labelsieve.quality.scorecard_files import load_scorecard
from labelsieve.registry import get_registries
from labelsieve.service.container import build_service
from labelsieve.service.project_catalog import UnknownProjectError
from labelsieve.service.project_settings import store_project_settings
from labelsieve.settings import Settings
from labelsieve.simulate.datasets import DatasetError, load_dataset
from labelsieve.simulate.project_inputs import resolve_learner
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope


def _simulate(console: Console, spec: str, noise: str, seeds: int, learner: str) -> None:
    dataset = load_dataset(spec)
    choice = resolve_learner(learner, dataset)
    name = choice.learner
    registries = get_registries()
    make = lambda: registries.learners.create(name, dict(choice.params))  # noqa: E731 - a fresh learner per fit
    items = dataset.inputs_for(make().input_kind)
    table = Table(title=f"pruning on {dataset.name} ({len(dataset)} items, {name} learner, noise {noise})")
    for column in ("seed", "flips", "flagged", "precision", "recall", "AUROC", "prune (flips)", "acc all",
                   "-flagged", "-random", "-lowest value", "-prune"):
        table.add_column(column)
    for seed in range(seeds):
        report, _ = pruning_experiment(items=list(items), labels=dataset.labels, make_learner=make, noise=noise,
                                       seed=seed)
        ours, acc = report["ours"], report["acc"]
        table.add_row(str(seed), str(report["flips"]), str(ours["flagged"]), f"{ours['precision']:.3f}",
                      f"{ours['recall']:.3f}", f"{ours['auroc']:.3f}", f"{report['pruned']} ({report['pruned_true']})",
                      *(f"{acc[k]:.4f}" for k in ("all", "minus_flagged", "minus_random", "minus_lowest_value",
                                                   "minus_pruned")))
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def prune(
        project: int = typer.Option(None, help="Label Studio project id (labelsieve's store under --data-dir)."),
        apply: bool = typer.Option(False, "--apply", help="Set prune=flagged (or keep_top) and retrain now."),
        keep_top: float = typer.Option(None, "--keep-top", help="Share (0-1] of scored items to keep by value."),
        simulate: str = typer.Option(None, help="Instead: a data set ('digits', a .csv...) to measure pruning on."),
        noise: str = typer.Option("sym10", help="With --simulate: symN or asymN label noise (N percent)."),
        seeds: int = typer.Option(1, help="With --simulate: repetitions."),
        learner: str = typer.Option("auto", help="With --simulate: learner name."),
        data_dir: str = typer.Option(None, help="Where labelsieve's database and models live (default ./data)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """Items the scorecard marks prune; --apply trains without them; --simulate measures what pruning does."""
        console = Console()
        if simulate:
            try:
                _simulate(console, simulate, noise, seeds, learner)
            except (DatasetError, ValueError) as exc:
                console.print(f"[red]error:[/] {exc}")
                raise typer.Exit(2) from None
            return
        if project is None:
            console.print("[red]error:[/] give --project ID (or --simulate DATASET)")
            raise typer.Exit(2)
        if keep_top is not None and not 0.0 < keep_top <= 1.0:
            console.print(f"[red]error:[/] --keep-top must be above 0 and at most 1, got {keep_top}")
            raise typer.Exit(2)
        overrides = {"start_workers": False, **({"data_dir": data_dir} if data_dir else {})}
        service = build_service(Settings(**overrides))
        try:
            try:
                state = service.loop.project(project)
            except UnknownProjectError as exc:
                console.print(f"[red]error:[/] {exc}")
                raise typer.Exit(2) from None
            version = state.model_version
            if not version:
                console.print(f"project {project} has no trained model yet: nothing to judge")
                raise typer.Exit(1)
            rows, meta = load_scorecard(service.artifacts, project, version)
            if not meta:
                assert service.quality is not None
                rows, meta = service.quality.scorecard(state, version, service.loop.settings_of(state).settings)
            if keep_top is None:
                marked = [r for r in rows if r.recommendation == "prune"]
            else:  # the lowest values beyond the share, lowest first (ties by task id, as the retrain does)
                ranked = sorted((r for r in rows if r.value is not None),  # region task types have no value
                                key=lambda r: (-float(r.value or 0.0), r.task_id))
                marked = ranked[keep_top_count(keep_top, len(ranked)):][::-1] if ranked else []
            if as_json:
                typer.echo(json.dumps({"version": version, "summary": meta.get("summary", {}),
                                       "prune": [r.__dict__ for r in marked]}, indent=2, default=str))
            else:
                what = "marked prune" if keep_top is None else f"outside the top {keep_top:.0%} by value"
                table = Table(title=f"project {project} {version}: {len(marked)} of {len(rows)} labelled items "
                                    f"{what}")
                for column in ("task", "annotation", "label", "suggested", "issue score", "value", "reason"):
                    table.add_column(column)
                for r in marked:
                    table.add_row(str(r.task_id), str(r.annotation_id), r.label, r.suggested_label,
                                  f"{r.issue_score:.3f}", "-" if r.value is None else f"{r.value:.2e}", r.reason)
                console.print(table)
            if apply:
                with session_scope(service.engine) as session:
                    rule = "flagged" if keep_top is None else {"keep_top": keep_top}
                    store_project_settings(session=session, project_id=project, changes={"prune": rule})
                outcome = service.loop.retrain(project, force=True)
                with session_scope(service.engine) as session:
                    versions = crud.list_model_versions(session=session, project_id=project)
                left_out = next((len(v.metrics.get("pruned", [])) for v in versions if v.version == outcome.version), 0)
                console.print(f"retrain: {outcome.status} {outcome.version or ''} {outcome.reason} "
                              f"({left_out} item(s) left out of training; nothing deleted in Label Studio)")
        finally:
            service.stop()
