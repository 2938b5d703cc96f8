"""MLflow tracking: one run per retrain (optional extra ``labelsieve[mlflow]``, off unless a tracking URI is set).

``LABELSIEVE_MLFLOW_TRACKING_URI`` or ``MLFLOW_TRACKING_URI`` (e.g. ``sqlite:////srv/mlflow.db`` or
``file:///srv/mlruns``: a local store, no server). Each run is named after the model version and holds
params (strategy, learner, balancing, queue settings), metrics (prequential accuracy, labelled count, class
counts, imbalance ratio, label-issue and prune counts, train seconds) and artifacts (the ranking CSV, the
scorecard CSV/JSON, the model files). :class:`MlflowClient` is used directly: no global active run, so the
background thread and the tests never share MLflow's process-wide state.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from labelsieve.quality.scorecard import ScoreRow, summary, to_csv
from labelsieve.storage import crud, rankings
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion


def _metric_key(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-. /" else "_" for ch in text)[:250]


class MlflowTracker:
    """Callable as the quality runner's ``tracker``."""

    def __init__(self, *, engine: Engine, tracking_uri: str, experiment: str = "labelsieve",
                 artifact_location: str | None = None) -> None:
        self.engine = engine
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location  # a new experiment's artifact root (a SQLite store has none)

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri)

    def experiment_id(self, client: MlflowClient) -> str:
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(self.experiment, artifact_location=self.artifact_location)

    def __call__(self, *, project_id: int, version: str, settings: Any, rows: list[ScoreRow],
                 artifacts: ArtifactStore) -> str:
        with session_scope(self.engine) as session:
            row = session.exec(select(ModelVersion).where(ModelVersion.project_id == project_id,
                                                          ModelVersion.version == version)).first()
            annotations = crud.list_annotations(session=session, project_id=project_id)
            ranking = rankings.ranked_tasks(session=session, project_id=project_id, version=version)
            ranking_rows = [(p.task_id, p.rank, p.score, "|".join(p.labels), p.confidence) for p in ranking]
        client = self.client()
        run = client.create_run(self.experiment_id(client), run_name=version,
                                tags={"labelsieve.project": str(project_id), "labelsieve.version": version})
        run_id = run.info.run_id
        client.log_batch(run_id, params=[Param(k, v) for k, v in self.params(settings).items()],
                         metrics=[Metric(k, float(v), 0, 0) for k, v in self.metrics(row, annotations, rows).items()])
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["task_id", "rank", "score", "predicted", "confidence"])
            writer.writerows(ranking_rows)
            (folder / "ranking.csv").write_text(buffer.getvalue(), encoding="utf-8")
            if rows:
                (folder / "scorecard.csv").write_text(to_csv(rows), encoding="utf-8")
            client.log_artifacts(run_id, str(folder))
        model_dir = artifacts.path_for(project_id, version)
        if model_dir.exists():
            client.log_artifacts(run_id, str(model_dir), artifact_path="model")
        client.set_terminated(run_id)
        return run_id

    @staticmethod
    def params(settings: Any) -> dict[str, str]:
        return {
            "strategy": settings.strategy, "strategy_params": json.dumps(settings.strategy_params, sort_keys=True),
            "learner": settings.learner, "learner_params": json.dumps(settings.learner_params, sort_keys=True),
            "balancing": str(settings.balancing), "batch_size": str(settings.batch_size),
            "retrain_every": str(settings.retrain_every), "min_annotations": str(settings.min_annotations),
            "seed": str(settings.seed), "label_issues": str(settings.label_issues),
            "prune": settings.prune if isinstance(settings.prune, str) else json.dumps(settings.prune),
        }

    @staticmethod
    def metrics(row: ModelVersion | None, annotations: list[Any], rows: list[ScoreRow]) -> dict[str, float]:
        out: dict[str, float] = {}
        judged = [a for a in annotations if a.predicted_labels and a.labels]
        if judged:  # prequential: the serving model's guess when the label came, against the label
            out["prequential_accuracy"] = sum(a.predicted_labels[0] == a.labels[0] for a in judged) / len(judged)
            out["prequential_n"] = len(judged)
        counts = Counter(dict(row.class_counts)) if row is not None else Counter()
        for label, count in counts.items():
            out[_metric_key(f"class_count.{label}")] = count
        if counts:
            out["imbalance_ratio"] = max(counts.values()) / max(1, min(counts.values()))
        if row is not None:
            out["n_train"] = row.n_train
            out["train_seconds"] = row.train_seconds
            out["pruned"] = len((row.metrics or {}).get("pruned", []))
        if rows:
            s = summary(rows)
            out["label_issues"] = s["flagged"]
            out["recommend_review"] = s["review"]
            out["recommend_prune"] = s["prune"]
            out["redundant"] = s["redundant"]
        return out
