"""Answer Label Studio's ``/predict``: exactly one result per task, in request order.

Tasks ranked by the last query round get their prediction and rank-encoded score (lower = label
sooner) from the version's stored ranking (``storage.rankings``). Tasks not ranked yet (new since
the last round, or already labelled) are predicted now and get ``score = confidence`` of the top
class, Label Studio's native meaning.
The predicted choice is pre-ticked (``result``) only when the project's estimated accuracy and the task's
confidence are above ``preannotate_threshold`` (:mod:`labelsieve.storage.preannotation`); else ``result`` is empty.
A task whose input cannot be loaded gets an empty result; the rest of the batch is unaffected.
"""

from __future__ import annotations

import logging

from labelsieve.labelstudio.protocol import LSTask, ResultRegion, TaskPrediction
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.project_catalog import UNTRAINED_VERSION, UnknownProjectError
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.preannotation import PreannotationGate, gate_for
from labelsieve.tasktypes import ServedConfig
from labelsieve.tasktypes.classification import ClassPrediction

log = logging.getLogger(__name__)


def _result(served: ServedConfig, labels: list[str], confidence: float | None,
            gate: PreannotationGate) -> list[ResultRegion]:
    """The pre-ticked answer, only when the gate allows it (else none: the score alone ranks the task); the
    task type writes the regions (one ``score`` each)."""
    output = ClassPrediction(tuple(labels), float(confidence if confidence is not None else 0.0))
    regions = served.task_type.prediction_result(served.config, output, preannotate=gate.allows(confidence))
    return [ResultRegion.model_validate(region) for region in regions]


def predict_tasks(
    loop: ActiveLearningLoop, *, project_id: int | None, label_config: str | None, tasks: list[LSTask]
) -> tuple[list[TaskPrediction], str]:
    if project_id is None:
        raise UnknownProjectError("the request names no project (send 'project' or tasks with 'project')")
    with session_scope(loop.engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
    if project is None or not project.label_config:
        if not label_config:
            raise UnknownProjectError(f"project {project_id} is not set up with this backend (POST /setup first)")
        loop.setup_project(project_id=project_id, label_config=label_config)
        project = loop.project(project_id)
    with session_scope(loop.engine) as session:
        crud.upsert_tasks(session=session, project_id=project_id,
                          tasks=[{"id": t.id, "data": t.data} for t in tasks])
    served = loop.served(project.label_config)
    serving = loop.serving_model(project)
    if serving is None:
        version = UNTRAINED_VERSION
        return [TaskPrediction(model_version=version, result=[]) for _ in tasks], version

    version, learner = serving
    with session_scope(loop.engine) as session:
        stored = rankings.lookup(session=session, project_id=project_id, version=version,
                                 task_ids=[t.id for t in tasks])
        gate = gate_for(session=session, project_id=project_id,
                        threshold=loop.settings_of(project).settings.preannotate_threshold)
    results: list[TaskPrediction | None] = [None] * len(tasks)
    missing: list[int] = []
    for position, task in enumerate(tasks):
        row = stored.get(task.id)
        if row is None:
            missing.append(position)
        elif row.regions is not None:  # a region task type: the regions its ranking round predicted
            regions = row.regions if gate.allows(row.confidence) else []
            results[position] = TaskPrediction(model_version=version, score=row.score,
                                               result=[ResultRegion.model_validate(r) for r in regions])
        else:
            results[position] = TaskPrediction(model_version=version, score=row.score,
                                               result=_result(served, list(row.labels), row.confidence, gate))
    if missing:
        loader = loop.input_loader(project, learner.input_kind)
        loaded = loader.load([tasks[i].data for i in missing])
        if loaded.errors:
            loop.metrics.failures.labels("media").inc(len(loaded.errors))
            for pos, error in loaded.errors.items():
                log.warning("task %s: no prediction: %s", tasks[missing[pos]].id, error)
        if loaded.inputs and hasattr(learner, "predict_regions"):  # a region task type (spans, boxes)
            for pos, output in zip(loaded.positions, learner.predict_regions(loaded.inputs), strict=True):
                regions = served.task_type.prediction_result(served.config, output,
                                                             preannotate=gate.allows(output.confidence))
                results[missing[pos]] = TaskPrediction(
                    model_version=version, score=float(output.confidence),
                    result=[ResultRegion.model_validate(r) for r in regions])
        elif loaded.inputs:
            probas = learner.predict_proba(loaded.inputs)
            outputs = served.task_type.decode(probas, learner.classes_, getattr(learner, "thresholds_", None))
            for k, pos in enumerate(loaded.positions):
                output = outputs[k]
                results[missing[pos]] = TaskPrediction(
                    model_version=version, score=output.confidence,
                    result=_result(served, list(output.labels), output.confidence, gate))
    final = [r if r is not None else TaskPrediction(model_version=version, result=[]) for r in results]
    loop.metrics.predictions.inc(len(final))
    return final, version
