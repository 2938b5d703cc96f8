"""The built-in per-kind sections (:mod:`labelsieve.pages.kinds`): multi-label and named entities."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from seqeval.metrics import classification_report
from sklearn.metrics import precision_recall_fscore_support

from labelsieve.labelconfig import NO_REGION
from labelsieve.pages.kinds import (
    KindSection,
    f1_table,
    pool_uncertainty,
    prequential_note,
    register_kind_section,
    scored_annotations,
    uncertainty_histogram,
)
from labelsieve.pages.sections import esc, num
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project
from labelsieve.tasktypes import ServedConfig


def per_label_scores(true: list[list[str]], predicted: list[list[str]], labels: list[str],
                     ) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per-label precision/recall/F1/support and the micro and macro F1 of label sets."""
    Y = np.array([[label in row for label in labels] for row in true], dtype=np.int64).reshape(-1, len(labels))
    P = np.array([[label in row for label in labels] for row in predicted], dtype=np.int64).reshape(-1, len(labels))
    precision, recall, f1, support = precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    rows = {label: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                    "support": float(support[j])} for j, label in enumerate(labels)}
    overall = {avg: float(precision_recall_fscore_support(Y, P, average=avg, zero_division=0)[2])
               for avg in ("micro", "macro")}
    return rows, overall


def multilabel_section(service: Any, project: Project, served: ServedConfig) -> KindSection:
    labels = list(served.config.labels)
    scored = [(a, a.predicted_labels) for a, _ in scored_annotations(service, project, regions=False)
              if a.predicted_labels is not None and a.labels]
    body = ""
    if scored:
        rows, overall = per_label_scores([list(a.labels) for a, _ in scored], [list(p or []) for _, p in scored],
                                         labels)
        body += (f'<p class="kind-summary">Micro-F1 <b>{num(overall["micro"])}</b>, macro-F1 '
                 f'<b>{num(overall["macro"])}</b> over {len(labels)} labels.</p>'
                 + prequential_note(len(scored), "labelled tasks") + f1_table(rows, "label", "per-label"))
    else:
        body += ('<p class="empty">No per-label scores yet: they come from labels that arrive while a model '
                 "serves.</p>")
    body += uncertainty_histogram(pool_uncertainty(service, project, served), served.task_type.default_aggregation)
    return KindSection("Per-label F1 and pool uncertainty (multi-label)", body)


def per_type_scores(true: list[list[str]], predicted: list[list[str]]) -> dict[str, dict[str, float]]:
    """seqeval's entity-level exact match per entity type, from BIO tag sequences."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(true, predicted, output_dict=True, zero_division=0)
    return {name: {"precision": float(v["precision"]), "recall": float(v["recall"]), "f1": float(v["f1-score"]),
                   "support": float(v["support"])}
            for name, v in report.items() if name not in ("micro avg", "macro avg", "weighted avg")}


def ner_section(service: Any, project: Project, served: ServedConfig) -> KindSection:
    task_type, config = served.task_type, served.config
    true_tags: list[list[str]] = []
    pred_tags: list[list[str]] = []
    scored = scored_annotations(service, project)
    with_data = _task_data(service, [int(a.task_id) for a, regions in scored if regions is not None])
    for annotation, regions in scored:
        data = with_data.get(int(annotation.task_id))
        if regions is None or data is None:
            continue
        truth = task_type.target(annotation.result, config, data)
        guess = task_type.target(regions, config, data)
        if truth is None or guess is None or truth.text is None:
            continue
        true_tags.append(truth.tags()[0])
        pred_tags.append(guess.tags()[0])
    body = ""
    rows = per_type_scores(true_tags, pred_tags) if true_tags else {}
    if rows:
        body += (f'<p class="kind-summary">Entity-level F1 per type (exact match, seqeval) over '
                 f"<b>{len(true_tags)}</b> sentences.</p>" + prequential_note(len(true_tags), "labelled sentences")
                 + f1_table(rows, "entity type", "per-entity-type"))
    elif true_tags:
        body += (f'<p class="empty">{len(true_tags)} labelled sentence(s) scored, none with an entity '
                 f"({esc(NO_REGION)}) yet.</p>")
    else:
        body += ('<p class="empty">No per-entity-type scores yet: they come from sentences labelled while a model '
                 "serves.</p>")
    body += uncertainty_histogram(pool_uncertainty(service, project, served), task_type.default_aggregation)
    return KindSection("Per-entity-type F1 and pool uncertainty (named entities)", body)


def _task_data(service: Any, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    with session_scope(service.engine) as session:
        return {int(k): dict(t.data or {}) for k, t in crud.get_tasks(session=session, task_ids=task_ids).items()}


register_kind_section("multi_label", multilabel_section)
register_kind_section("ner", ner_section)
