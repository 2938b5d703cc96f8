"""Background data-quality pass after each retrain: scorecard → Label Studio review → MLflow run.

The loop's publisher pushes the ranking first; only then is ``(project, version)`` submitted here, so the
ranking push never waits for cross-fitting. One daemon thread serves every project; a project's queued
version is replaced by a newer one (only the serving version is worth judging: a burst of versions is one pass).
Rounds come first: before a pass and before each of its steps (scorecard, review, each job) the thread waits in
``gate`` until no round is coming, queued or training (``FairSlots.wait_quiet``), and a project's passes start at
least ``min_interval_seconds`` apart (its newest version then). ``wait_idle`` blocks on a condition (tests, CLI);
``before_job`` is a test hook called with ``(project_id, version)`` as a job starts; ``yielding`` is set while
the thread waits for rounds.

Reuse across rounds: when the labelled set (annotation ids, labels, update times) and the learner recipe are
the same as the previous scorecard's, its rows are reused (a forced retrain on unchanged labels costs nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from labelsieve.labelstudio.client import LabelStudioClient
from labelsieve.quality.assess import assess
from labelsieve.quality.host import PassStopped, QualityHost, fingerprint, stop_between_fits
from labelsieve.quality.regions import MIN_ITEMS, assess_regions
from labelsieve.quality.scorecard import ScoreRow, summary
from labelsieve.quality.scorecard_files import load_scorecard, save_review, save_scorecard
from labelsieve.service.review import publish_review
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion

log = logging.getLogger(__name__)


Tracker = Callable[..., None]
#: a further background job on the serving version: (host, project, version, settings, stopped=...) -> a JSON-able
#: result; a job that fits models checks ``stopped()`` before each (:func:`labelsieve.quality.host.stop_between_fits`)
Job = Callable[..., Any]
#: waits up to the given seconds until no training round is coming, queued or training; True when none is
Gate = Callable[[float], bool]


class QualityRunner:
    def __init__(self, *, host: QualityHost, client_factory: Callable[[int], LabelStudioClient | None],
                 api_key_of: Callable[[int], str | None], keep_versions: int = 2,
                 tracker: Tracker | None = None, jobs: dict[str, Job] | None = None, gate: Gate | None = None,
                 min_interval_seconds: float = 0.0) -> None:
        self.host = host
        self.client_factory = client_factory
        self.api_key_of = api_key_of
        self.keep_versions = keep_versions
        self.tracker = tracker
        self.jobs = jobs or {}
        self.gate = gate
        self.min_interval_seconds = min_interval_seconds
        self.before_job: Callable[[int, str], None] | None = None
        self.last: dict[int, dict[str, Any]] = {}
        #: set while the thread waits for training rounds to finish (test hook)
        self.yielding = threading.Event()
        self._queue: dict[int, str] = {}
        self._not_before: dict[int, float] = {}  # project -> monotonic time its next pass may start
        self._busy = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ----------------------------------------------------------- background
    def submit(self, project_id: int, version: str) -> None:
        with self._cond:
            if self._stopping:  # a round that ended while the service stops: no pass
                return
            self._queue[project_id] = version
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="labelsieve-quality", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> dict[int, str]:
        """Queued passes: project -> the newest version waiting for its pass."""
        with self._cond:
            return dict(self._queue)

    def _next(self) -> tuple[int, str] | None:
        """The oldest queued project whose interval has passed (None: stopping), rounds given way to first."""
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return None
            if not self._yield_to_rounds():
                return None
            with self._cond:
                now = time.monotonic()
                ready = [pid for pid in self._queue if self._not_before.get(pid, 0.0) <= now]
                if ready:
                    self._busy = True
                    return ready[0], self._queue.pop(ready[0])
                if self._queue and not self._stopping:  # every queued project ran lately: wait for the first
                    self._cond.wait(min(self._not_before.get(pid, now) for pid in self._queue) - now)

    def _yield_to_rounds(self) -> bool:
        """Wait until no training round is coming, queued or training; False when the runner stops meanwhile."""
        if self.gate is None:
            return True
        while not self.gate(0.5):
            self.yielding.set()
            with self._cond:
                if self._stopping:
                    return False
        self.yielding.clear()
        return True

    def _serve(self) -> None:
        while True:
            picked = self._next()
            if picked is None:
                return
            project_id, version = picked
            started = time.perf_counter()
            try:
                self.run(project_id, version)
                log.info("data-quality pass of project %s %s done in %.2f s", project_id, version,
                         time.perf_counter() - started)
            except PassStopped:
                log.info("data-quality pass of project %s %s stopped: the service stops", project_id, version)
            except Exception:  # noqa: BLE001 - a failed quality pass never stops the next one
                log.exception("data-quality pass of project %s %s failed", project_id, version)
            finally:
                with self._cond:
                    self._busy = False
                    self._not_before[project_id] = time.monotonic() + self.min_interval_seconds
                    self._cond.notify_all()

    def wait_idle(self, timeout: float = 120.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def stopping(self) -> bool:
        """True once :meth:`stop` was called: a pass in progress ends before its next fit."""
        return self._stopping

    def stop(self, timeout: float = 60.0) -> bool:
        """No new pass or step starts, and a running pass ends before its next fit (:class:`PassStopped`); waits
        up to ``timeout`` seconds for the fit in progress. False when the thread is still running then."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

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
            report["review"] = self._review(project, version, rows) if self._yield_to_rounds() else None
        for name, job in self.jobs.items():  # e.g. the 5-fold estimate (labelsieve.service.cvjob)
            if not self._yield_to_rounds():  # each step of a pass starts only while no round waits
                break  # the runner stops
            try:
                report[name] = job(host, project, version, ps, stopped=self.stopping)
            except PassStopped:
                raise
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
        make_learner = stop_between_fits(lambda: host.registries.learners.create(ps.learner, ps.learner_params),
                                         self.stopping)
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
