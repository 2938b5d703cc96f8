"""The live project page and the index page, assembled from sections and cached.

:class:`PageRenderer` keeps two caches: the diagnosis per serving model version (the expensive part: the
model scores a pool sample) and each page's HTML keyed by :func:`~labelsieve.pages.collect.fingerprint`
(a few SQL aggregates), kept at most ``ttl`` seconds so previews of a Label Studio that was away come back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from string import Template
from typing import Any

from labelsieve.pages import figures, hooks, sections
from labelsieve.pages.auditsection import audit_section
from labelsieve.pages.boxsection import boxes_section
from labelsieve.pages.collect import ProjectView, collect, fingerprint, project_summaries
from labelsieve.pages.contactsection import first_contact_section
from labelsieve.pages.cvsection import cv_estimate_section
from labelsieve.pages.diagnosis import Diagnosis, DiagnosisCache
from labelsieve.pages.driftsection import drift_section
from labelsieve.pages.issue_section import scorecard_key
from labelsieve.pages.kinds import kind_section
from labelsieve.pages.modelsection import model_section
from labelsieve.pages.observersection import observer_section
from labelsieve.pages.sections import esc, section
from labelsieve.pages.textsection import text_features_section
from labelsieve.pages.thumbnails import previews
from labelsieve.quality.projectaudit import audit_stamp, latest_audit
from labelsieve.report.confusion_html import confusion_table
from labelsieve.service.container import Service

log = logging.getLogger(__name__)
TEMPLATE = Template(resources.files("labelsieve.pages").joinpath("templates/page.html").read_text())


def page_path(project_id: int) -> str:
    return f"/projects/{project_id}/page"


INDEX_PATH = "/projects/page"


class PageRenderer:
    def __init__(self, *, ttl: float = 60.0, max_pages: int = 64) -> None:
        self.ttl = ttl
        self.max_pages = max_pages
        self.diagnoses = DiagnosisCache()
        self._pages: OrderedDict[int, tuple[tuple[Any, ...], float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._figures: dict[tuple[int, str], tuple[str, str | None]] = {}
        self.last_timing: dict[str, float] = {}

    def figure(self, project_id: int, name: str, inputs: Any, draw: Callable[[], str | None]) -> str | None:
        """One plot, redrawn only when what it shows changed (``inputs`` is its data, compared by ``repr``)."""
        key = repr(inputs)
        with self._lock:
            hit = self._figures.get((project_id, name))
        if hit is not None and hit[0] == key:
            return hit[1]
        try:
            uri = draw()
        except Exception:  # noqa: BLE001 - one plot that cannot be drawn must not take the page down
            log.exception("the %s plot of project %s failed", name, project_id)
            return None
        with self._lock:
            self._figures[(project_id, name)] = (key, uri)
        return uri

    def project_page(self, service: Service, project_id: int, status: dict[str, Any]) -> str | None:
        """The page's HTML, or None when the project is not set up. ``status`` is the project's status JSON."""
        key = (fingerprint(service.engine, project_id), repr(hooks.waiting_events(status)),
               repr(status.get("cv_estimate")),  # written by the background job after the retrain
               repr(status.get("text_features")),  # the background encoding's progress
               repr(status.get("first_contact")),  # the first sync's progress
               repr(status.get("observer")),  # observer mode's last round
               repr(scorecard_key(service, project_id)),  # the label-issue scorecard, written after the retrain
               repr(status.get("drift")),  # written by the background drift check after the retrain
               repr(status.get("image_features")),  # the background image encoding's progress
               audit_stamp(service.loop, project_id, status.get("model_version")))  # GET /projects/{id}/audit
        with self._lock:
            hit = self._pages.get(project_id)
            if hit is not None and hit[0] == key and time.monotonic() - hit[1] < self.ttl:
                self.last_timing = {"cached": 1.0}
                return hit[2]
        page = self._render(service, project_id, status)
        if page is not None:
            with self._lock:
                self._pages[project_id] = (key, time.monotonic(), page)
                while len(self._pages) > self.max_pages:
                    self._pages.popitem(last=False)
        return page

    def _render(self, service: Service, project_id: int, status: dict[str, Any]) -> str | None:
        started = time.perf_counter()
        view = collect(service.engine, project_id)
        if view is None:
            return None
        collected = time.perf_counter()
        diagnosis, _ = self.diagnoses.get(service.loop, view.project, [q.task_id for q in view.queue])
        diagnosed = time.perf_counter()
        config = service.loop.config_of(view.project)  # the task type's view (any type: data_key, kind)
        shown = previews(view.queue, config, service.gateway.fetcher(view.project))
        previewed = time.perf_counter()
        body = self._body(service, view, diagnosis, shown, status)
        done = time.perf_counter()
        self.last_timing = {"collect": collected - started, "diagnosis": diagnosed - collected,
                            "previews": previewed - diagnosed, "plots_and_html": done - previewed,
                            "total": done - started}
        title = f"{view.project.title or f'Project {view.project.id}'} · labelsieve"
        return TEMPLATE.substitute(title=esc(title), body=body)

    def _body(self, service: Service, view: ProjectView, diagnosis: Diagnosis | None,
              shown: dict[int, Any], status: dict[str, Any]) -> str:
        p, r = view.project, view.report
        counts = r["class_counts"]
        minority = min(counts, key=lambda c: counts[c]) if counts else None
        ready = [(v.version, v.n_train, v.class_counts) for v in view.versions if v.status == "ready"]
        version = diagnosis.version if diagnosis is not None else None
        curve = self.figure(p.id, "curve", (r["curve"], r["projection"], r["accuracy_estimate"]),
                            lambda: figures.learning_curve(r))
        balance = self.figure(p.id, "balance", ready, lambda: figures.class_balance(view.versions))
        per_class = self.figure(p.id, "per_class", (r["per_class"], minority),
                                lambda: figures.per_class(r["per_class"], minority))
        spread = self.figure(p.id, "entropy", (version, id(diagnosis)), lambda: figures.entropy_histogram(diagnosis))
        plane = self.figure(p.id, "map", (version, id(diagnosis)), lambda: figures.embedding_map(diagnosis))
        parts = [
            f'<header><nav><a href="{INDEX_PATH}">all projects</a><a href="/projects/{p.id}">status JSON</a>'
            f'<a href="/projects/{p.id}/report">report JSON</a></nav>'
            f"<h1>{esc(p.title) if p.title else f'Project {p.id}'}</h1>"
            f"<p>Label Studio project {p.id} &middot; serving <b>{esc(p.model_version or 'no model yet')}</b> "
            f"&middot; {view.n_tasks} tasks &middot; "
            f"{r['labeled']} labels &middot; {len(view.ready_versions)} model version(s)"
            f"{' &middot; Label Studio ' + esc(p.ls_hostname) if p.ls_hostname else ''}</p>"
            f"{sections.estimate_text(r, status.get('cv_estimate'))}</header>",
        ]
        observing = observer_section(status.get("observer"))
        if observing:
            parts.append(section("observer", "Observer mode", observing))
        contact = first_contact_section(status.get("first_contact"))
        if contact:
            parts.append(section("first-contact", "First contact", contact))
        waiting = hooks.waiting_events(status)
        if waiting or view.pending_events or view.failed_events:
            parts.append(section("waiting", "Waiting and failing", sections.waiting_section(waiting, view)))
        stopping = status.get("stopping")  # the stop signal (service/stopping.py): its sentence, as the status says it
        stop_text = f"<p><b>{esc(stopping['message'])}</b></p>" if stopping else ""
        parts.append(section("learning-curve", "Learning curve", sections.projection_text(r, r["labeled"]) + stop_text
                             + sections.plot(curve, "learning curve",
                                             "No scored model version yet: labels that arrive while a model "
                                             "serves score it (prequential).")))
        parts.append(section("class-balance", "Class balance", sections.balance_text(view)
                             + sections.plot(balance, "class balance over time",
                                             "No trained version yet.")
                             + sections.plot(per_class, "per-class recall",
                                             "No scored labels yet.")))
        audit_matrix = ("" if view.audit_confusion is None else
                        "<h3>Confusion matrix (random audit sample, prequential)</h3>"
                        "<p class='note'>The audit share's uniform random items: each label against what the model "
                        "serving at the time predicted for it.</p>" + confusion_table(view.audit_confusion))
        parts.append(section("cv-estimate", "Per-class estimate (5-fold)",
                             cv_estimate_section(status.get("cv_estimate"), counts) + audit_matrix))
        parts.append(section("drift", "Drift", drift_section(status.get("drift"))))
        model = model_section(status)
        if model:
            parts.append(section("model-features", "Model and features", model))
        text = text_features_section(status.get("text_features"))
        if text:
            parts.append(section("text-features", "Text features", text))
        kind = kind_section(service, p)  # the task type's own section (labelsieve.pages.kinds)
        if kind is not None:
            parts.append(section(kind[0], kind[1].title, kind[1].body))
        boxes = boxes_section(service, view)
        if boxes:
            parts.append(section("boxes", "Boxes: per-class AP and predicted boxes", boxes))
        parts.append(section("queue", "Queue: what annotators see next", sections.queue_section(view, shown)))
        parts.append(section("diagnosis", "Diagnosis", sections.diagnosis_text(diagnosis) + '<div class="row"><div>'
                             + sections.plot(spread, "predictive entropy over the pool",
                                             "No entropy: no model has scored the pool.") + "</div><div>"
                             + sections.plot(plane, "embedding map",
                                             "No embedding map.") + "</div></div>"))
        parts.append(section("versions", "Model versions", sections.versions_table(view)))
        stored = latest_audit(service.loop, p.id, [v.version for v in view.versions if v.status == "ready"])
        parts.append(section("audit", "Data audit", audit_section(stored, p.id)))
        issues = hooks.label_issues(service, p.id)
        if issues:
            parts.append(section("label-issues", "Label-issue candidates", sections.label_issues_section(issues)))
        return "".join(parts)

    def index_page(self, service: Service) -> str:
        rows = [[f'<a href="{page_path(s["id"])}">{s["id"]}</a>', esc(s["title"]), str(s["tasks"]),
                 str(s["labelled"]), str(s["versions"]), esc(s["model_version"] or "none")]
                for s in project_summaries(service.engine)]
        body = ("<header><h1>labelsieve projects</h1></header>"
                + (sections.table(["project", "title", "tasks", "labelled", "model versions", "serving"], rows,
                                  "projects") if rows else '<p class="empty">No project is set up yet: connect '
                   "this backend to a Label Studio project (Settings &rarr; Model).</p>"))
        return TEMPLATE.substitute(title="labelsieve projects", body=section("projects", "Projects", body))
