"""Background data-quality pass after each retrain: scorecard → Label Studio review → MLflow run.

The loop's publisher pushes the ranking first; only then is ``(project, version)`` submitted here, so the
ranking push never waits for cross-fitting. One daemon thread serves every project; a project's queued
version is replaced by a newer one (only the serving version is worth judging). ``wait_idle`` blocks on a
condition (tests, CLI); ``before_job`` is a test hook called with ``(project_id, version)`` as a job starts.

Reuse across rounds: when the labelled set (annotation ids, labels, update times) and the learner recipe are
the same as the previous scorecard's, its rows are reused (a forced retrain on unchanged labels costs nothing).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from labelsieve.labelstudio.client import LabelStudioClient
from labelsieve.quality.assess import assess
from labelsieve.quality.host import QualityHost, fingerprint
from labelsieve.quality.regions import MIN_ITEMS, assess_regions
from labelsieve.quality.scorecard import ScoreRow, summary
from labelsieve.quality.scorecard_files import load_scorecard, save_review, save_scorecard
from labelsieve.service.review import publish_review
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion

log = logging.getLogger(__name__)


Tracker = Callable[..., None]
#: a further background job on the serving version: (host, project, version, settings) -> a JSON-able result
Job = Callable[[QualityHost, Any, str, Any], Any]


class QualityRunner:
    def __init__(self, *, host: QualityHost, client_factory: Callable[[int], LabelStudioClient | None],
                 api_key_of: Callable[[int], str | None], keep_versions: int = 2,
                 tracker: Tracker | None = None, jobs: dict[str, Job] | None = None) -> None:
        self.host = host
        self.client_factory = client_factory
        self.api_key_of = api_key_of
        self.keep_versions = keep_versions
        self.tracker = tracker
        self.jobs = jobs or {}
        self.before_job: Callable[[int, str], None] | None = None
        self.last: dict[int, dict[str, Any]] = {}
        self._queue: dict[int, str] = {}
        self._busy = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ----------------------------------------------------------- background
    def submit(self, project_id: int, version: str) -> None:
        with self._cond:
            self._queue[project_id] = version
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="labelsieve-quality", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                project_id = next(iter(self._queue))
                version = self._queue.pop(project_id)
                self._busy = True
            try:
                self.run(project_id, version)
            except Exception:  # noqa: BLE001 - a failed quality pass never stops the next one
                log.exception("data-quality pass of project %s %s failed", project_id, version)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait_idle(self, timeout: float = 120.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """No new job starts; a running one gets ``timeout`` seconds to finish before the service closes."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------------ job
    def run(self, project_id: int, version: str) -> dict[str, Any]:
        """Scorecard, review push and tracking for one version, in the calling thread."""
        if self.before_job is not None:
            self.before_job(project_id, version)
        host = self.host
        project = host.project(project_id)
        ps = host.settings_of(project).settings
        rows: list[ScoreRow] = []
        report: dict[str, Any] = {"project_id": project_id, "version": version, "label_issues": ps.label_issues}
        if ps.label_issues and project.model_version == version:
            rows, meta = self.scorecard(project, version, ps)
            report["summary"] = meta.get("summary", summary(rows))
            report["review"] = self._review(project, version, rows)
        for name, job in self.jobs.items():  # e.g. the 5-fold estimate (labelsieve.service.cvjob)
            try:
                report[name] = job(host, project, version, ps)
            except Exception as exc:  # noqa: BLE001 - one failed job must not stop the others or the tracking
                log.exception("%s of project %s %s failed", name, project_id, version)
                report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        if self.tracker is not None:
            self.tracker(project_id=project_id, version=version, settings=ps, rows=rows,
                         artifacts=host.artifacts)
        self.last[project_id] = report
        return report

    def scorecard(self, project: Any, version: str, ps: Any) -> tuple[list[ScoreRow], dict[str, Any]]:
        host = self.host
        served = host.serving_model(project)
        if served is None or served[0] != version:
            return [], {}
        learner = served[1]
        kind = host.served(project.label_config)
        usable = None if kind.name == "single_label" else (  # as the retrain: the type reads the result
            lambda ann: kind.task_type.target(ann.result, kind.config) is not None)
        with session_scope(host.engine) as session:
            examples = crud.labeled_examples(session=session, project_id=project.id, usable=usable)
        recipe = {"learner": ps.learner, "params": ps.learner_params, "seed": ps.seed}
        mark = fingerprint(examples, recipe)
        previous = self._previous(project.id, version)
        if previous is not None and previous[1].get("fingerprint") == mark:
            rows, meta = previous
            save_scorecard(host.artifacts, project.id, version, rows, meta)
            return rows, meta
        loader = host.input_loader(project, learner.input_kind)
        loaded = loader.load([task.data for task, _ in examples])
        picked = [examples[i] for i in loaded.positions]
        make_learner = lambda: host.registries.learners.create(ps.learner, ps.learner_params)  # noqa: E731
        task_ids, annotation_ids = [int(t.id) for t, _ in picked], [int(a.id) for _, a in picked]
        if kind.name == "single_label":
            labels = [ann.labels[0] for _, ann in picked]
            if len(set(labels)) < 2:
                return [], {}
            result = assess(inputs=loaded.inputs, labels=labels, task_ids=task_ids, annotation_ids=annotation_ids,
                            learner=learner, make_learner=make_learner, seed=ps.seed)
        else:  # multi-label, spans, boxes: the task type's cross-fitted outputs, cleanlab finder and gate
            if len(picked) < MIN_ITEMS:
                return [], {}
            targets = [kind.task_type.target(ann.result, kind.config) for _, ann in picked]
            result = assess_regions(inputs=loaded.inputs, targets=targets, task_ids=task_ids,
                                    annotation_ids=annotation_ids, task_type=kind.task_type, config=kind.config,
                                    make_learner=make_learner, seed=ps.seed)
        meta = {"fingerprint": mark, "summary": result.summary}
        save_scorecard(host.artifacts, project.id, version, result.rows, meta)
        self._record(project.id, version, result.summary)
        return result.rows, meta

    def _previous(self, project_id: int, version: str) -> tuple[list[ScoreRow], dict[str, Any]] | None:
        with session_scope(self.host.engine) as session:
            versions = [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                        if v.status == "ready" and v.version != version]
        for older in reversed(versions):
            rows, meta = load_scorecard(self.host.artifacts, project_id, older)
            if meta:
                return rows, meta
        return None

    def _record(self, project_id: int, version: str, quality: dict[str, Any]) -> None:
        with session_scope(self.host.engine) as session:
            row = session.exec(select(ModelVersion).where(ModelVersion.project_id == project_id,
                                                          ModelVersion.version == version)).first()
            if row is not None:
                row.metrics = {**(row.metrics or {}), "quality": quality}
                session.add(row)

    def _review(self, project: Any, version: str, rows: list[ScoreRow]) -> dict[str, Any] | None:
        client = self.client_factory(project.id)
        key = self.api_key_of(project.id)
        if client is None or not key or not rows:
            return None
        result = publish_review(client, project.id, version, rows, self.host.config_of(project), api_key=key,
                                keep_versions=self.keep_versions)
        review = {"model_version": result.model_version, "pushed": result.pushed, "view_id": result.view_id,
                  "deleted_versions": result.deleted_versions}
        save_review(self.host.artifacts, project.id, version, review)
        return review


def score_version(host: QualityHost, project_id: int, version: str) -> list[ScoreRow]:
    """The scorecard of one version, computed in the calling thread with no Label Studio and no tracking
    (simulation runs: ``labelsieve simulate --scorecard``)."""
    project = host.project(project_id)
    runner = QualityRunner(host=host, client_factory=lambda _: None, api_key_of=lambda _: None)
    rows, _ = runner.scorecard(project, version, host.settings_of(project).settings)
    return rows
