"""Per-kind sections of the project page: what one task type adds beside the sections every project has.

A section is found by the project's task type name, in this order:

1. a provider registered with :func:`register_kind_section` (``provider(service, project, served) -> KindSection |
   None``): the built-in ones below (``multi_label``, ``ner``); another module of labelsieve registers its own the
   same way at import (e.g. the boxes section);
2. else a ``page_section(facts)`` method on the task type itself (a plugin's type: no import of the page code
   needed), given :class:`KindFacts` and returning a :class:`KindSection` or ``None``.

No provider and no method: no section (single-label projects have theirs: class balance, the 5-fold estimate).

The numbers come from what the service stores, as the single-label page's per-class recall does:

- **per-label / per-entity-type precision, recall, F1 (prequential)**: every label that arrived while a model was
  serving is scored against what that version had predicted for its task before it was labelled (multi-label: the
  stored predicted set; named entities: the stored predicted spans, entity-level exact match, seqeval's
  definition). The strategy chose those tasks as the hardest, so these are biased low, like the page's prequential
  accuracy.
- **uncertainty histogram of the pool**: the serving model scores a uniform sample of the pool it ranked (at most
  :data:`POOL_SAMPLE` tasks, seeded by the version) and the task type aggregates it with its default aggregation
  (:meth:`labelsieve.tasktypes.base.TaskType.task_uncertainty`), the score its default strategy ranks by. Computed
  once per serving version.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelsieve.pages.sections import esc, num, plot, table
from labelsieve.report.plots import figure_data_uri, new_figure
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Annotation, Project
from labelsieve.tasktypes import ServedConfig

log = logging.getLogger(__name__)
POOL_SAMPLE = 500


@dataclass(frozen=True)
class KindSection:
    """One per-kind section: its title and its HTML body (the page wraps it in ``<section id="kind-NAME">``)."""

    title: str
    body: str


@dataclass
class KindFacts:
    """What a task type's ``page_section`` is given: the stored annotations with the serving version's prediction
    of their task before it was labelled (``predicted``: that version's stored ``result`` regions, or None), the
    pool uncertainty sample (default aggregation), and the served config."""

    served: ServedConfig
    project: Project
    scored: list[tuple[Annotation, list[dict[str, Any]] | None]]
    pool_uncertainty: np.ndarray | None


KindProvider = Callable[[Any, Project, ServedConfig], "KindSection | None"]
_providers: dict[str, KindProvider] = {}
_uncertainty: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
_lock = threading.Lock()


def register_kind_section(task_type: str, provider: KindProvider) -> None:
    """Show ``provider``'s section on the pages of projects of ``task_type`` (replaces an earlier one)."""
    _providers[task_type] = provider


def kind_section(service: Any, project: Project) -> tuple[str, KindSection] | None:
    """(anchor, section) of the project's task type, or None. A failing provider shows its error, not a 500."""
    served = service.loop.served(project.label_config)
    provider = _providers.get(served.name)
    method = getattr(served.task_type, "page_section", None)
    if provider is None and not callable(method):
        return None
    try:
        if provider is not None:
            found = provider(service, project, served)
        else:
            found = method(KindFacts(served, project, scored_annotations(service, project),
                                     pool_uncertainty(service, project, served)))
    except Exception as exc:  # noqa: BLE001 - an optional section must not take the page down
        log.exception("the %s section of project %s failed", served.name, project.id)
        found = KindSection(served.name, f'<p class="failed">this section failed: {esc(type(exc).__name__)}: '
                                         f"{esc(exc)}</p>")
    return None if found is None else (f"kind-{served.name.replace('_', '-')}", found)


# ------------------------------------------------------------------------------------------ stored facts
def scored_annotations(service: Any, project: Project, *, regions: bool = True,
                       ) -> list[tuple[Annotation, list[dict[str, Any]] | None]]:
    """Each usable annotation labelled while a model served, with the regions its predicting version stored for its
    task (None: none stored, or ``regions=False``: the stored rankings are not read). The predicted labels (the set,
    for multi-label) are in ``Annotation.predicted_labels`` either way."""
    with session_scope(service.engine) as session:
        annotations = [a for a in crud.list_annotations(session=session, project_id=project.id)
                       if not a.was_cancelled and a.predicted_version]
        by_version: dict[str, list[int]] = {}
        for a in annotations:
            by_version.setdefault(str(a.predicted_version), []).append(int(a.task_id))
        found = {version: rankings.lookup(session=session, project_id=project.id, version=version, task_ids=ids)
                 for version, ids in by_version.items()} if regions else {}
    out = []
    for a in annotations:
        entry = found.get(str(a.predicted_version), {}).get(int(a.task_id))
        out.append((a, None if entry is None else entry.regions))
    return out


def pool_uncertainty(service: Any, project: Project, served: ServedConfig) -> np.ndarray | None:
    """The task type's default aggregation over a uniform sample of the pool the serving version ranked."""
    serving = service.loop.serving_model(project)
    if serving is None:
        return None
    version, learner = serving
    with _lock:
        hit = _uncertainty.get((project.id, version))
    if hit is not None:
        return hit
    rng = np.random.default_rng(zlib.crc32(f"{project.id}:{version}:kind".encode()))
    with session_scope(service.engine) as session:
        stored = rankings.ranking_of(session=session, project_id=project.id, version=version)
        ids = [] if stored is None else sorted(int(i) for i in stored.task_ids)
        if len(ids) > POOL_SAMPLE:
            ids = sorted(int(i) for i in rng.choice(np.asarray(ids), size=POOL_SAMPLE, replace=False))
        tasks = crud.get_tasks(session=session, task_ids=ids)
    loaded = service.loop.input_loader(project, learner.input_kind).load([tasks[i].data for i in ids if i in tasks])
    if not loaded.inputs:
        values = np.zeros(0)
    elif hasattr(learner, "predict_regions"):
        values = served.task_type.task_uncertainty(learner.predict_regions(loaded.inputs))
    else:
        values = served.task_type.task_uncertainty((learner.predict_proba(loaded.inputs),
                                                    getattr(learner, "thresholds_", None)))
    values = np.asarray(values, dtype=np.float64)
    with _lock:
        _uncertainty[(project.id, version)] = values
        while len(_uncertainty) > 32:
            _uncertainty.popitem(last=False)
    return values


# ------------------------------------------------------------------------------------------ shared HTML
def uncertainty_histogram(values: np.ndarray | None, aggregation: str) -> str:
    if values is None:
        return '<p class="empty">No model is serving yet: no pool uncertainty.</p>'
    if not len(values):
        return '<p class="empty">The serving version ranked no pool task that loads.</p>'
    fig = new_figure(6, 3)
    ax = fig.subplots()
    ax.hist(values, bins=30, color="tab:orange")
    ax.set_xlabel(f"task uncertainty ({aggregation})")
    ax.set_ylabel(f"pool tasks (sample of {len(values)})")
    text = (f'<p class="pool-uncertainty">Pool uncertainty ({esc(aggregation)}, the default aggregation) over a '
            f"uniform sample of <b>{len(values)}</b> pool tasks: median <b>{np.median(values):.3f}</b>, "
            f"90th percentile {np.percentile(values, 90):.3f}, max {values.max():.3f}.</p>")
    return text + plot(figure_data_uri(fig), f"{aggregation} uncertainty over the pool", "")


def f1_table(rows: dict[str, dict[str, float]], what: str, css: str) -> str:
    """Per-``what`` precision/recall/F1/support rows (worst F1 first)."""
    order = sorted(rows, key=lambda k: (rows[k]["f1"], k))
    cells = [[esc(k), num(rows[k]["precision"]), num(rows[k]["recall"]), f"<b>{num(rows[k]['f1'])}</b>",
              str(int(rows[k]["support"]))] for k in order]
    return table([what, "precision", "recall", "F1", "support (true)"], cells, css)


def prequential_note(n: int, unit: str) -> str:
    return (f'<p class="note">Prequential: {n} {unit} scored against what the model serving at the time had '
            "predicted for their task before it was labelled. The strategy chose those tasks as the hardest, so "
            "these numbers are biased low.</p>")


from labelsieve.pages import kind_builtin  # noqa: E402,F401 - registers the built-in sections
