"""``labelsieve simulate`` (oracle loop over a labelled data set) and ``labelsieve report`` (rebuild it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelsieve.commands.simulate_boxes import simulate_boxes
from labelsieve.detection.readers import DetectionDataError
from labelsieve.report.build import write_report
from labelsieve.simulate.datasets import DatasetError, load_dataset
from labelsieve.simulate.detection import BoxSimulationError
from labelsieve.simulate.heldout_scores import METRICS
from labelsieve.simulate.runner import Simulation, SimulationConfig, SimulationError
from labelsieve.simulate.spans import SpanSimulationConfig, check_strategies, simulate_spans, span_dataset
from labelsieve.simulate.store import RunStore, StoreError
from labelsieve.spans.readers import SpanDataError

console = Console()
err = Console(stderr=True)


class RichProgress:
    """One bar per (strategy, seed) run, advanced once per round."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[tuple[str, int], TaskID] = {}

    def run_started(self, strategy: str, seed: int, rounds: int) -> None:
        label = "full-data model" if strategy == "__full__" else strategy
        self.tasks[(strategy, seed)] = self.progress.add_task(f"{label} seed {seed}", total=rounds)

    def round_done(self, strategy: str, seed: int) -> None:
        self.progress.advance(self.tasks[(strategy, seed)])

    def run_finished(self, strategy: str, seed: int) -> None:
        task = self.tasks.get((strategy, seed))
        if task is not None:
            total = self.progress.tasks[task].total
            self.progress.update(task, completed=total, visible=False)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=2)


def _json_option(name: str, raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        _fail(f"{name} is not valid JSON: {exc}")
    if not isinstance(value, dict):
        _fail(f"{name} must be a JSON object")
    return value


def print_savings(report: dict[str, Any]) -> None:
    table = Table(title=f"labels to a fraction of the full-data {report['metric']} "
                        f"({report['full_data']['mean']:.3f}), {len(report['seeds'])} seeds")
    for column in ("strategy", "target", "labels", "random", "savings", "95% CI", "AULC"):
        table.add_column(column)
    for row in report["savings"]:
        lo, hi = row["savings_ci"]
        table.add_row(row["strategy"], f"{row['target']:.0%}", str(row["labels"]), str(row["random_labels"]),
                      f"{row['savings']:.1%}", f"[{lo:.1%}, {hi:.1%}]",
                      f"{report['strategies'][row['strategy']]['aulc']['mean']:.4f}")
    table.add_row("random", "", "", "", "", "", f"{report['strategies']['random']['aulc']['mean']:.4f}")
    console.print(table)


def _simulate_spans(sentences: list[Any], strategies: str, *, initial: int | None, batch_size: int, budget: int,
                    seeds: int, test_fraction: float, base_seed: int, out: Path) -> None:
    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    config = SpanSimulationConfig(strategies=names, initial=initial or 20, batch_size=batch_size, budget=budget,
                                  seeds=seeds, test_fraction=test_fraction, base_seed=base_seed)
    try:
        check_strategies(names)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bars:
            bar = bars.add_task("named-entity runs", total=seeds * len(check_strategies(names)))
            report = simulate_spans(sentences, config, on_run=lambda _s, _seed: bars.advance(bar))
    except SpanDataError as exc:
        _fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "spans_report.json"
    path.write_text(json.dumps(report, indent=1))
    table = Table(title=f"named entities: {report['sentences']} sentences, {report['tokens']} tokens; full-data "
                        f"entity F1 {report['full_f1']:.3f}, {seeds} seeds (medians)")
    for column in ("strategy", "F1 at budget", "sentences to 95%", "tokens to 95%", "sentences to 90%",
                   "tokens to 90%"):
        table.add_column(column)

    def cell(row: dict[str, Any]) -> str:
        return "-" if row["median"] is None else f"{row['median']:.0f}" + (
            "" if row["reached"].split("/")[0] == row["reached"].split("/")[1] else f" ({row['reached']})")

    for name, row in report["summary"].items():
        table.add_row(name, f"{row['curve'][-1]['entity_f1']:.3f}", cell(row["sentences_to_95"]),
                      cell(row["tokens_to_95"]), cell(row["sentences_to_90"]), cell(row["tokens_to_90"]))
    console.print(table)
    console.print(f"wrote {path} ('-': not reached within the budget in every seed)")


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        dataset: str = typer.Option("digits", help="A packaged data set (digits, digits-longtail, rotten-tomatoes, "
                                                   "breast-cancer, wine, mnist-5k, animal-shapes, textures, "
                                                   "lfw-faces), a .csv file, an image folder (one sub-folder per "
                                                   "class) or a Label Studio .json export."),
        strategies: str = typer.Option(None, help="Comma-separated strategies; random is always added (default "
                                                  "margin,random; mnlp,random for named-entity span data)."),
        initial: int = typer.Option(None, help="Seed-set size (stratified; default two per class)."),
        initial_sampling: str = typer.Option("stratified", help="Seed set: stratified (every class) or random "
                                                                "(uniform: a rare class has to be found)."),
        batch_size: int = typer.Option(10, help="Labels per round."),
        budget: int = typer.Option(400, help="Total labels, seed set included."),
        seeds: int = typer.Option(10, help="Repeats with different splits and seed sets."),
        learner: str = typer.Option("auto", help="Learner: auto (as the service resolves it: auto_image on the "
                                                 "installed encoder for images, text for text, vector for CSV "
                                                 "features), vector, image, text or a plugin."),
        learner_params: str = typer.Option(None, help="Learner parameters as a JSON object."),
        balancing: str = typer.Option(None, help="Balancing method passed to the project settings (default off)."),
        balancing_params: str = typer.Option(None, help="Balancing parameters as a JSON object."),
        scorecard: bool = typer.Option(False, "--scorecard", help="Score each run's labelled set at the end "
                                                                 "(label issues, value; shown in the report)."),
        test_dataset: str = typer.Option(None, help="A separate labelled test set (same formats as --dataset) that "
                                                    "scores every round; the whole --dataset is then the pool and "
                                                    "--test-fraction is unused."),
        test_fraction: float = typer.Option(0.2, help="Held-out fraction for the learning curves."),
        base_seed: int = typer.Option(0, help="Base of every seed (splits, seed sets, rankings)."),
        metric: str = typer.Option("accuracy", help="Metric the savings targets use."),
        rare_class: str = typer.Option(None, help="Class for WSS@95 (work saved over sampling at 95% recall)."),
        label_column: str = typer.Option("label", help="CSV: the label column."),
        text_column: str = typer.Option(None, help="CSV: the text column (otherwise numeric feature columns)."),
        lead_time_column: str = typer.Option(None, help="CSV: seconds each label took."),
        data_key: str = typer.Option(None, help="Label Studio export: the task data field."),
        document_root: Path = typer.Option(None, help="Label Studio export: folder local-file images live in."),
        out: Path = typer.Option(Path("runs/simulation"), help="Output folder (resumable)."),
        restart: bool = typer.Option(False, help="Discard what --out holds and start again."),
        task_type: str = typer.Option("auto", help="boxes: object detection (--dataset shapes[:N], a COCO .json "
                                                   "or a Label Studio export with rectangles; --strategies from "
                                                   "sum, mean, max, random, ls_example). auto: classification."),
    ) -> None:
        """Replay active learning over a labelled data set and report annotation-cost savings vs random.

        A CoNLL-style BIO file (read by content, whatever its suffix) or a Label Studio export with span regions
        runs the named-entity simulation, whose cost is counted in sentences and tokens."""
        try:
            sentences = span_dataset(dataset, data_key=data_key)
        except SpanDataError as exc:
            _fail(str(exc))
        if sentences is not None:
            _simulate_spans(sentences, strategies or "mnlp,random", initial=initial, batch_size=batch_size,
                            budget=budget, seeds=seeds, test_fraction=test_fraction, base_seed=base_seed, out=out)
            return
        strategies = strategies or "margin,random"
        names = tuple(s.strip() for s in strategies.split(",") if s.strip())
        if not names:
            _fail("--strategies is empty")
        if seeds < 1:
            _fail(f"--seeds must be at least 1, got {seeds}")
        if task_type == "boxes":
            try:
                simulate_boxes(dataset=dataset, strategies=names, initial=initial, batch_size=batch_size,
                               budget=budget, seeds=seeds, test_fraction=test_fraction, base_seed=base_seed,
                               learner_params=_json_option("--learner-params", learner_params),
                               image_root=document_root, data_key=data_key, out=out)
            except (DetectionDataError, BoxSimulationError) as exc:
                _fail(str(exc))
            return
        if task_type != "auto":
            _fail(f"unknown --task-type {task_type!r}; choose auto or boxes")
        try:
            options = {"label_column": label_column, "text_column": text_column, "data_key": data_key,
                       "document_root": document_root, "lead_time_column": lead_time_column}
            data = load_dataset(dataset, **options)
            test_data = None
            if test_dataset is not None:
                try:
                    test_data = load_dataset(test_dataset, **options)
                except DatasetError as exc:
                    _fail(f"--test-dataset: {exc}")
            if rare_class is not None and rare_class not in data.classes:
                _fail(f"--rare-class {rare_class!r} is not a class of the data set ({', '.join(data.classes)})")
            if metric not in METRICS:
                _fail(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
            store = RunStore(out)
            if restart:
                store.clear()
            config = SimulationConfig(
                strategies=names, initial=initial, batch_size=batch_size, budget=budget, seeds=seeds,
                learner=learner, learner_params=_json_option("--learner-params", learner_params),
                balancing=balancing, balancing_params=_json_option("--balancing-params", balancing_params),
                test_fraction=test_fraction, base_seed=base_seed, scorecard=scorecard,
                initial_sampling=initial_sampling,
            )
            simulation = Simulation(dataset=data, config=config, store=store, test_dataset=test_data,
                                    test_spec=test_dataset)
            simulation.prepare()  # bad input fails here, before any progress bar
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console, transient=True) as bars:
                simulation.progress = RichProgress(bars)
                simulation.run()
            json_path, html_path = write_report(out, metric=metric, rare_class=rare_class)
        except (DatasetError, SimulationError, StoreError) as exc:
            _fail(str(exc))
        report = json.loads(json_path.read_text())
        if (report.get("leakage") or {}).get("found"):
            console.print(f"[red]{report['leakage']['sentence']}[/]")
        print_savings(report)
        console.print(f"wrote {json_path} and {html_path}")

    @app.command()
    def report(
        out: Path = typer.Argument(..., help="A folder `labelsieve simulate --out` wrote."),
        metric: str = typer.Option("accuracy", help="Metric the savings targets use."),
        rare_class: str = typer.Option(None, help="Class for WSS@95."),
        pr_at: int = typer.Option(None, help="Per-class numbers and PR curves at the last round with at most this "
                                             "many labels (default: the last round)."),
    ) -> None:
        """Rebuild report.json and report.html from a simulation folder's stored rounds."""
        if not out.is_dir():
            _fail(f"{out} is not a folder")
        try:
            json_path, html_path = write_report(out, metric=metric, rare_class=rare_class, pr_at=pr_at)
        except StoreError as exc:
            _fail(str(exc))
        print_savings(json.loads(json_path.read_text()))
        console.print(f"wrote {json_path} and {html_path}")

