"""``labelsieve select``: choose the next items of a pool that lives outside Label Studio (Parquet files).

Without Label Studio it writes the picks (``id,rank,score``). With ``--label-studio-project`` one call
is one round: read the project's annotations of earlier picks, retrain on them, select among the items
not yet imported, import the picks as tasks with their rank as the prediction score.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from labelsieve.devices import check_device, device_scope
from labelsieve.labelconfig import UnsupportedLabelConfig, parse_label_config
from labelsieve.labelstudio.client import LabelStudioClient, LabelStudioError
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.pool.engine import EngineUnavailable, make_engine
from labelsieve.pool.rounds import exclude_of, pool_vectors, project_state, task_payloads, train
from labelsieve.pool.select import STRATEGIES, SelectionError, SelectRequest, select
from labelsieve.pool.source import PoolError, open_pool


@contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as bars:
        def start(description: str, total: int) -> Callable[[int], None]:
            task = bars.add_task(description, total=total)
            return lambda amount: bars.advance(task, amount)

        yield start


def write_picks(path: Path, ids: list, scores: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "rank", "score"])
        for rank, (item, score) in enumerate(zip(ids, scores, strict=True), 1):
            writer.writerow([item, rank, repr(float(score))])


def register(app: typer.Typer) -> None:
    @app.command("select")
    def select_command(
        pool: Path = typer.Option(..., help="A Parquet file, a folder of them or a glob (columns id, embedding)."),
        strategy: str = typer.Option(..., help=f"One of {', '.join(STRATEGIES)}."),
        n: int = typer.Option(..., help="How many items to choose."),
        out: Path = typer.Option(..., help="CSV to write the picks to (id,rank,score in pick order)."),
        engine: str = typer.Option("local", help="local (this process) or ray (a Ray cluster)."),
        ray_address: str = typer.Option(None, help="Ray cluster address (default: the one ray.init finds/starts)."),
        workers: int = typer.Option(None, help="Workers/shards (default: 1 local, the cluster's CPUs on Ray)."),
        device: str = typer.Option("auto", help="Torch device of the scoring: auto (a GPU per Ray worker when the "
                                                "cluster has GPUs, else the CPU), cpu, cuda or cuda:<n>."),
        seed: int = typer.Option(0, help="Seed of the strategy's random draws."),
        learner: str = typer.Option("vector", help="Learner trained on the annotated items' embeddings."),
        label_studio_project: int = typer.Option(None, help="Import the picks into this Label Studio project."),
        label_studio_url: str = typer.Option(None, envvar="LABEL_STUDIO_URL", help="Label Studio URL."),
        api_key: str = typer.Option(None, envvar="LABEL_STUDIO_API_KEY", help="Legacy token or personal token."),
    ) -> None:
        """Rank a pool outside Label Studio and (optionally) send the chosen items to a project."""
        console = Console()
        try:
            source = open_pool(pool)
            runner = make_engine(engine, address=ray_address, workers=workers, device=check_device(device))
            model, labelled, exclude, client, config = None, None, None, None, None
            if label_studio_project is not None:
                if not label_studio_url or not api_key:
                    raise SelectionError("--label-studio-project needs --label-studio-url and --api-key "
                                         "(or LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY)")
                client = LabelStudioClient(label_studio_url, api_key)
                config = parse_label_config(client.get_project(label_studio_project)["label_config"])
                with console.status("reading annotations from Label Studio…"):
                    state = project_state(client.export_tasks(label_studio_project), config)
                model, why = train(source, state, learner)
                console.print(f"project {label_studio_project}: {len(state.imported_ids)} items imported before, "
                              f"{len(state.labels)} annotated; {why}")
                exclude = exclude_of(state)
                labelled = pool_vectors(source, state.imported_positions)
            console.print(f"pool {pool}: {source.n_rows} items in {len(source.paths)} files, "
                          f"{len(source.units)} blocks, engine {engine}")
            request = SelectRequest(strategy=strategy, n=n, seed=seed, model=model, labeled=labelled, exclude=exclude)
            started = time.perf_counter()
            with progress_bars(console) as bars, device_scope(device):
                selection = select(source, request, runner, progress=bars)
            write_picks(out, selection.ids, selection.scores)
            console.print(f"chose {len(selection.ids)} items with {strategy} in "
                          f"{time.perf_counter() - started:.1f} s → {out}")
            if getattr(runner, "devices_", None):
                console.print(f"scoring workers ran on: {', '.join(runner.devices_)}")
            if client is not None and config is not None and selection.ids:
                version = f"pool-{strategy}-{time.strftime('%Y%m%dT%H%M%S')}"
                tasks = task_payloads(source, selection, config, version, model)
                with console.status(f"importing {len(tasks)} tasks into Label Studio…"):
                    created = client.import_tasks(label_studio_project, tasks)
                console.print(f"imported {len(created)} tasks into project {label_studio_project} "
                              f"(predictions {version}, score = rank)")
        except (PoolError, SelectionError, EngineUnavailable, LabelStudioError, UnsupportedLabelConfig, ValueError,
                RetryLater) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
