"""The oracle loop: the service's ``ActiveLearningLoop``, with labels from the data set.

Each (strategy, seed) run is one project in its own SQLite database: the pool items are its
tasks, and every round is ``loop.retrain`` (fit the registered learner, rank the pool with the
project's strategy, store a QueryRound and predictions). The oracle then "annotates" the top
``batch_size`` tasks of the stored ranking through the service's webhook path (its inbox and applier), so
prequential bookkeeping happens as in the service. Held-out scores come from the serving model, on a
split of the data set or, with a fixed test set (``--test-dataset``), on that set (the whole data set is
the pool); each round's test-set probabilities are kept for the report's precision-recall curves.
Every strategy of a seed shares the split, the seed set, the learner recipe and the project seed;
synthetic samples from balancing train the model but never count as labels (labels = annotations).
A run resumes from its stored rounds: the ranking seed depends on the round number, not the clock.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from labelsieve.inputs import InputLoader
from labelsieve.labelconfig import parse_label_config
from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.labelstudio.media import MediaFetcher
from labelsieve.learners.auto import AutoChoice
from labelsieve.metrics import Metrics
from labelsieve.registry import Registries, get_registries
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.project_settings import ProjectSettingsError
from labelsieve.service.quality_runner import score_version
from labelsieve.settings import Settings
from labelsieve.simulate.datasets import Dataset, DatasetError
from labelsieve.simulate.heldout_scores import HeldOutSet
from labelsieve.simulate.oracle import annotate
from labelsieve.simulate.project_inputs import label_config, resolve_learner, task_data
from labelsieve.simulate.run_config import NoRunProgress, RunProgress, SimulationConfig, SimulationError, n_rounds
from labelsieve.simulate.splitaudit import split_audit
from labelsieve.simulate.splits import Split, check_protocol, make_pool_split, make_split
from labelsieve.simulate.store import FULL_DATA, RunStore
from labelsieve.simulate.testset import check_test_set, describe_test_set
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.models import ModelVersion, Task, utcnow

PROJECT_ID = 1


class Simulation:
    """One simulation over ``dataset``; :meth:`run` fills ``store`` and continues unfinished runs."""

    def __init__(self, *, dataset: Dataset, config: SimulationConfig, store: RunStore,
                 registries: Registries | None = None, progress: RunProgress | None = None,
                 test_dataset: Dataset | None = None, test_spec: str | None = None) -> None:
        self.dataset = dataset
        self.test_dataset = test_dataset  # fixed test set: scores every round instead of a split of the pool
        self.test_spec = test_spec
        self.config = config
        self.store = store
        self.registries = registries or get_registries()
        self.progress = progress or NoRunProgress()
        # set by prepare() (run() calls it unless the caller has, to fail on bad input before any progress bar)
        self.prepared = False
        self.choice: AutoChoice | None = None
        self.learner_name = ""
        self.base_params: dict[str, Any] = {}
        self.initial = 0
        self.strategies: tuple[str, ...] = ()
        self.input_kind = ""
        self.datas: list[dict[str, Any]] = []
        self.test_datas: list[dict[str, Any]] | None = None
        self.config_xml = ""
        self.held_out = HeldOutSet(dataset=self.dataset, datas=[])

    def prepare(self) -> None:
        """Check the protocol and the plugin names; raise SimulationError/DatasetError with a message."""
        cfg, d = self.config, self.dataset
        self.choice = resolve_learner(cfg.learner, d, cfg.learner_params)
        self.learner_name, self.base_params = self.choice.learner, self.choice.params
        if d.multi_label and cfg.learner == "auto":  # one-vs-rest on the single-label learner's features
            self.base_params = {"base": self.learner_name, "base_params": self.base_params}
            self.learner_name = "multilabel"
        self.initial = cfg.initial if cfg.initial is not None else 2 * len(d.classes)
        if cfg.initial_sampling not in ("stratified", "random"):
            raise DatasetError(f"--initial-sampling must be stratified or random, got {cfg.initial_sampling!r}")
        if self.test_dataset is not None:
            check_test_set(d, self.test_dataset)
        check_protocol(d.strata, initial=self.initial, budget=cfg.budget, batch_size=cfg.batch_size,
                       test_fraction=None if self.test_dataset is not None else cfg.test_fraction)
        self.strategies = tuple(dict.fromkeys([*cfg.strategies, "random"]))
        try:
            for name in self.strategies:
                self.registries.strategies.create(name, {})
            probe = self.registries.learners.create(self.learner_name, dict(self.base_params))
        except Exception as exc:  # unknown plugin names: the registry's message lists the known ones
            raise SimulationError(str(exc)) from exc
        self.input_kind = probe.input_kind
        self.datas = task_data(d, self.input_kind)
        self.test_datas = None if self.test_dataset is None else task_data(self.test_dataset, self.input_kind)
        self.held_out = HeldOutSet(dataset=d, datas=self.datas, test_dataset=self.test_dataset,
                                   test_datas=self.test_datas)
        self.config_xml = label_config("text" if self.input_kind == "text" else "image", d.classes,
                                       multiple=d.multi_label)
        self.prepared = True

    def protocol(self) -> dict[str, Any]:
        d, cfg = self.dataset, self.config
        return {
            "dataset": {"name": d.name, "kind": d.kind, "n": len(d), "classes": d.classes,
                        "fingerprint": zlib.crc32("\n".join(d.labels.tolist()).encode())},
            "initial": self.initial, "batch_size": cfg.batch_size, "budget": cfg.budget,
            "learner": self.learner_name, "learner_params": dict(self.base_params),
            "learner_resolved": self.choice.describe() if self.choice is not None else None, "balancing": cfg.balancing,
            "balancing_params": dict(cfg.balancing_params),
            "test_fraction": cfg.test_fraction if self.test_dataset is None else None,
            "test_dataset": None if self.test_dataset is None else describe_test_set(self.test_dataset,
                                                                                     self.test_spec),
            "base_seed": cfg.base_seed, "initial_sampling": cfg.initial_sampling,
            "strategies": list(self.strategies), "seeds": list(range(cfg.seeds)),
            "has_lead_times": d.lead_times is not None, "task_type": d.task_type,
        }

    def run(self, *, stop_after_rounds: int | None = None, only_seeds: Sequence[int] | None = None) -> None:
        """All runs; ``stop_after_rounds`` interrupts each run after that many rounds (tests resume).

        ``only_seeds`` runs just those seed indices: processes given disjoint seeds can fill one folder.
        """
        if not self.prepared:
            self.prepare()
        self.store.open(self.protocol())
        for seed in range(self.config.seeds) if only_seeds is None else only_seeds:
            if self.test_dataset is not None:
                split = make_pool_split(self.dataset.strata, base_seed=self.config.base_seed, seed=seed,
                                        initial=self.initial, sampling=self.config.initial_sampling)
            else:
                split = make_split(self.dataset.strata, base_seed=self.config.base_seed, seed=seed,
                                   test_fraction=self.config.test_fraction, initial=self.initial,
                                   sampling=self.config.initial_sampling)
            if not self.store.has_full(seed):
                self.store.save_full(seed, self.full_data(split))
            for name in self.strategies:
                self.run_one(name, split, stop_after_rounds=stop_after_rounds)

    # ----------------------------------------------------------------- helpers
    def project_seed(self, seed: int) -> int:
        return int(np.random.SeedSequence([self.config.base_seed, seed]).generate_state(1)[0] % 2**31)

    def learner_params(self, seed: int) -> dict[str, Any]:
        params = dict(self.base_params)
        probe = self.registries.learners.create(self.learner_name, params)
        if "random_state" in probe.get_params() and "random_state" not in params:
            params["random_state"] = self.project_seed(seed)
        return params

    def full_data(self, split: Split) -> dict[str, Any]:
        """The same learner recipe trained on the whole pool, scored on the held-out split."""
        self.progress.run_started(FULL_DATA, split.seed, 1)
        learner = self.registries.learners.create(self.learner_name, self.learner_params(split.seed))
        fetcher = MediaFetcher(base_url=None, auth=None, document_root=None, cache_dir=None)
        loader = InputLoader(config=parse_label_config(self.config_xml), input_kind=self.input_kind, fetcher=fetcher)
        train = loader.load([self.datas[i] for i in split.train])
        learner.fit(train.inputs, [self._target(int(split.train[i])) for i in train.positions])
        metrics, heldout = self.held_out.score(learner, loader, split)
        self.progress.run_finished(FULL_DATA, split.seed)
        pool = Counter(self.dataset.labels[split.train].tolist())
        held = self.held_out.inputs(split, loader)
        checked = split_audit(learner, train.inputs, [self.dataset.labels[split.train[i]] for i in train.positions],
                              held.inputs, heldout["truth"], seed=split.seed,
                              unreadable=sorted(set(range(len(split.train))) - set(train.positions)))
        return {"strategy": FULL_DATA, "seed": split.seed, "n_train": len(split.train), "metrics": metrics,
                "pool_class_counts": dict(pool), "audit": checked}

    def _target(self, item: int) -> Any:
        """The training target of data-set item ``item``: its label, or (multi-label) its label set."""
        return self.dataset.label_sets[item] if self.dataset.multi_label else self.dataset.labels[item]

    def _loop(self, settings: Settings) -> ActiveLearningLoop:
        engine: Engine = make_engine(settings.db_url)
        return ActiveLearningLoop(engine=engine, settings=settings, registries=self.registries,
                                  artifacts=ArtifactStore(settings.models_path), metrics=Metrics(),
                                  gateway=LabelStudioGateway(engine=engine, settings=settings))

    def _open_run(self, strategy: str, split: Split) -> ActiveLearningLoop:
        run_dir = self.store.run_dir(strategy, split.seed)
        run_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=run_dir, database_url=self.store.database_url(strategy, split.seed),
                            model_dir=run_dir / "models", label_studio_url=None, label_studio_api_key=None,
                            local_files_document_root=None, keep_prediction_versions=1, start_workers=False,
                            default_strategy="random", default_learner=self.learner_name)
        loop = self._loop(settings)
        with session_scope(loop.engine) as session:
            exists = crud.get_project(session=session, project_id=PROJECT_ID) is not None
            n_annotations = crud.count_annotations(session=session, project_id=PROJECT_ID)
        if not exists:
            extra: dict[str, Any] = {
                "strategy": strategy, "learner": self.learner_name, "learner_params": self.learner_params(split.seed),
                "batch_size": self.config.batch_size, "retrain_every": 1, "min_annotations": 2,
                "seed": self.project_seed(split.seed),
            }
            if self.config.balancing:
                extra |= {"balancing": self.config.balancing, "balancing_params": dict(self.config.balancing_params)}
            try:
                loop.setup_project(project_id=PROJECT_ID, label_config=self.config_xml, extra_params=extra,
                                   title=f"simulation {strategy} seed {split.seed}")
            except ProjectSettingsError as exc:
                raise SimulationError(str(exc)) from exc
            now = utcnow()
            with session_scope(loop.engine) as session:  # one bulk insert: ORM objects cost seconds at 4k tasks
                session.execute(insert(Task), [
                    {"id": p + 1, "project_id": PROJECT_ID, "data": self.datas[int(i)], "created_at": now,
                     "updated_at": now} for p, i in enumerate(split.train)])
        if n_annotations == 0:
            annotate(loop, self.dataset, split, [int(p) for p in split.initial], input_kind=self.input_kind,
                     project_id=PROJECT_ID)
        return loop

    def run_one(self, strategy: str, split: Split, *, stop_after_rounds: int | None = None) -> None:
        cfg = self.config
        budget = min(cfg.budget, len(split.train))
        self.progress.run_started(strategy, split.seed, n_rounds(self.initial, budget, cfg.batch_size))
        loop = self._open_run(strategy, split)
        rounds_now = 0
        try:
            while True:
                with session_scope(loop.engine) as session:
                    n_labeled = len(crud.labeled_examples(session=session, project_id=PROJECT_ID))
                    latest = crud.latest_ready_version(session=session, project_id=PROJECT_ID)
                if latest is None or latest.n_train < n_labeled:
                    if stop_after_rounds is not None and rounds_now >= stop_after_rounds:
                        return
                    outcome = loop.retrain(PROJECT_ID, force=True)
                    if outcome.status != "trained":
                        raise SimulationError(f"{strategy}, seed {split.seed}: training {outcome.status}: "
                                              f"{outcome.reason}")
                    rounds_now += 1
                    with session_scope(loop.engine) as session:
                        latest = crud.latest_ready_version(session=session, project_id=PROJECT_ID)
                    assert latest is not None
                if "heldout" not in latest.metrics:
                    self._store_heldout(loop, latest, split, strategy)
                    self.progress.round_done(strategy, split.seed)
                n = min(cfg.batch_size, budget - n_labeled)
                if n <= 0:
                    break
                with session_scope(loop.engine) as session:
                    last_round = crud.list_query_rounds(session=session, project_id=PROJECT_ID)[-1]
                if not last_round.batch:
                    break  # the pool is empty
                annotate(loop, self.dataset, split, [task_id - 1 for task_id in last_round.batch[:n]],
                         input_kind=self.input_kind, project_id=PROJECT_ID)
            if cfg.scorecard and latest is not None:
                score_version(loop, PROJECT_ID, latest.version)
        finally:
            loop.engine.dispose()
        self.progress.run_finished(strategy, split.seed)

    def _store_heldout(self, loop: ActiveLearningLoop, version: ModelVersion, split: Split, strategy: str) -> None:
        project = loop.project(PROJECT_ID)
        serving = loop.serving_model(project)
        assert serving is not None
        _, learner = serving
        scores, held = self.held_out.score(learner, loop.input_loader(project, learner.input_kind), split)
        with session_scope(loop.engine) as session:  # what a person ticked so far: labels, not only tasks
            examples = crud.labeled_examples(session=session, project_id=PROJECT_ID)
        scores["annotation_units"] = int(sum(max(1, len(annotation.labels)) for _, annotation in examples))
        self.store.save_heldout(strategy, split.seed, version.n_train, **held)
        with session_scope(loop.engine) as session:
            row = session.get(ModelVersion, version.id)
            assert row is not None
            row.metrics = {**(row.metrics or {}), "heldout": scores}
            session.add(row)


__all__ = ["DatasetError", "Simulation", "SimulationConfig", "SimulationError"]
