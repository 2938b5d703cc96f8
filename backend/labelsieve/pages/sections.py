"""HTML for each section of the project page (escaped text, tables and embedded plots)."""

from __future__ import annotations

import html
import json
from typing import Any

from labelsieve.pages.collect import ProjectView
from labelsieve.pages.diagnosis import Diagnosis
from labelsieve.pages.thumbnails import Preview


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def num(value: float | None, digits: int = 3) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def interval(ci: list[float] | None, digits: int = 3) -> str:
    return "" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def plot(uri: str | None, alt: str, empty: str) -> str:
    if uri is None:
        return f'<p class="empty">{esc(empty)}</p>'
    return f'<img class="plot" alt="{esc(alt)}" src="{uri}">'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def table(head: list[str], rows: list[list[str]], css: str = "") -> str:
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><tr>{header}</tr>{body}</table>'


def estimate_text(report: dict[str, Any], cv: dict[str, Any] | None = None) -> str:
    """The page's headline: an unbiased audit estimate when there is one, else the 5-fold estimate on the labels so
    far; the prequential score of the tasks the strategy chose (the hardest, so biased low) only as a footnote."""
    e = report["accuracy_estimate"]
    if e["value"] is not None and e["unbiased"]:
        return (f'<p class="estimate">Accuracy now: <b>{e["value"]:.1%}</b> (95% Wilson interval '
                f'{interval(e["ci"])}, {e["n"]} labels, {esc(e["method"])}) <span class="badge unbiased">unbiased'
                f'</span><br><span class="note">{esc(e["note"])}</span></p>')
    prequential = (f'{e["value"]:.1%} on the {e["n"]} labelled tasks the model had predicted before they were '
                   "labelled: the strategy chose those as the hardest, so this is biased low"
                   if e["value"] is not None else esc(e["note"]))
    footnote = f'<br><span class="note footnote">Prequential accuracy: {prequential}.</span>'
    if cv and cv.get("status") == "ok" and cv.get("accuracy") is not None:
        return (f'<p class="estimate">Accuracy now: <b>{cv["accuracy"]:.1%}</b> (5-fold cross-validation on the '
                f'{cv.get("n_used", cv.get("n_labels"))} labels so far; macro-F1 {num(cv.get("macro_f1"))}) '
                '<span class="badge">5-fold</span><br><span class="note">Active learning asked for harder tasks '
                "than a random one, so on the whole pool the model is likely better than this; set audit_share "
                f"for an unbiased estimate.</span>{footnote}</p>")
    if e["value"] is None:
        return f'<p class="estimate">Accuracy now: not known yet. {esc(e["note"])}</p>'
    return (f'<p class="estimate">Accuracy now: not known yet: the 5-fold estimate is computed in the background '
            f"after a retrain.{footnote}</p>")


def projection_text(report: dict[str, Any], labelled: int) -> str:
    p = report["projection"]
    if p["status"] != "ok":
        return f'<p class="projection">Projection: <b>{esc(p["status"])}</b> &mdash; {esc(p.get("reason"))}</p>'
    target = p["target_accuracy"]
    if p.get("labels_to_target") is None:
        return (f'<p class="projection">Projection: plateau {p["plateau"]:.3f}; the target {target:.3f} is '
                f'{esc(p.get("reason"))}.</p>')
    ci = p.get("labels_to_target_ci")
    spread = f" (95% interval {ci[0]}&ndash;{ci[1]})" if ci else " (interval: too few bootstrap fits converged)"
    stop = ('<p class="stop"><b>Stopping signal:</b> the fitted curve says the target is reached; more labels '
            'buy little.</p>' if p["labels_to_target"] <= labelled else "")
    return (f'<p class="projection">Projection: {p["labels_to_target"]} labels{spread} reach {target:.3f} '
            f'({p["more_labels_needed"]} more than the {labelled} now); fitted plateau {p["plateau"]:.3f}.</p>{stop}')


def balance_text(view: ProjectView) -> str:
    r = view.report
    counts = r["class_counts"]
    if not counts:
        return '<p class="empty">No labels yet.</p>'
    cells = ", ".join(f"{esc(c)}: {n}" for c, n in counts.items())
    minority = min(counts, key=lambda c: counts[c])
    scores = r["per_class"].get(minority, {})
    return (f'<p>Labelled per class now: {cells}. Imbalance ratio {num(r["imbalance_ratio"], 2)}. '
            f'Minority class <b>{esc(minority)}</b>: recall {num(scores.get("recall"))}, precision '
            f'{num(scores.get("precision"))} (prequential, {scores.get("support", 0)} scored).</p>')


def queue_section(view: ProjectView, previews: dict[int, Preview]) -> str:
    last = view.last_round
    strategy = (f'<p>Strategy <b>{esc(last.strategy)}</b> with parameters <code>{esc(json.dumps(last.strategy_params))}'
                f'</code>, batch {len(last.batch)}, pool {last.n_pool}, selection {last.select_seconds:.3f} s'
                f'{", audit share: " + str(len(last.audit)) + " random task(s) per batch" if last.audit else ""}.'
                f'</p>' if last else '<p class="empty">No ranking yet: the first model ranks the pool.</p>')
    if not view.queue:
        return strategy + ('<p class="empty">The queue is empty (no model serving, or every ranked task '
                           'is labelled).</p>')
    rows = [[str(q.rank), f"{q.task_id}{' <span class=badge>audit</span>' if q.audit else ''}", f"{q.score:.5f}",
             num(q.utility), f"{esc(q.predicted)} ({q.confidence:.0%})",
             previews[q.task_id].html if q.task_id in previews else ""] for q in view.queue]
    return strategy + table(["rank", "task", "score (LS serves lowest first)", "utility", "predicted", "preview"],
                            rows, "queue")


def diagnosis_text(d: Diagnosis | None) -> str:
    if d is None:
        return '<p class="empty">No model is serving yet.</p>'
    parts = [f"Serving model {esc(d.version)} scored a uniform sample of {len(d.entropy)} of the {d.n_pool} pool "
             f"tasks it ranked"]
    if len(d.entropy):
        parts.append(f"mean entropy {d.entropy.mean():.3f} nats of at most {d.max_entropy:.3f}")
    if d.errors:
        parts.append(f"{d.errors} sampled task(s) could not be loaded")
    if d.reason:
        parts.append(f"no map: {d.reason}")
    return "<p>" + esc("; ".join(parts)) + ".</p>"


def versions_table(view: ProjectView) -> str:
    if not view.versions:
        return '<p class="empty">No model has been trained yet.</p>'
    select = {r.model_version: r.select_seconds for r in view.rounds}
    rows = []
    for v in reversed(view.versions):
        balancing = v.metrics.get("balancing") if v.metrics else None
        rule = (v.metrics or {}).get("prune_rule")
        status = (f'<span class="failed">failed</span>: <code>{esc(v.error)}</code>' if v.status == "failed"
                  else ("serving" if v.version == view.project.model_version else esc(v.status)))
        rows.append([esc(v.version), v.created_at.strftime("%Y-%m-%d %H:%M:%S"), str(v.n_train),
                     num(v.train_seconds, 2) if v.status == "ready" else "&ndash;", num(select.get(v.version), 3),
                     esc(json.dumps(balancing)) if balancing else "none", _pruning(rule), status])
    return table(["version", "when (UTC)", "labels", "train s", "rank s", "balancing", "pruning", "status"], rows,
                 "versions")


def _pruning(rule: dict[str, Any] | None) -> str:
    if not rule:
        return "none"
    if "keep_top" not in rule:
        return esc(f"flagged: {rule.get('flagged', 0)} left out")
    if not rule.get("scored"):
        return esc(f"keep top {rule['keep_top']:.0%} by value: no scorecard yet, all kept")
    return esc(f"keep top {rule['keep_top']:.0%} by value (value >= {rule['value_threshold']:.4g}): "
               f"{rule['left_out']} of {rule['scored']} scored left out")


def waiting_section(entries: list[dict[str, Any]], view: ProjectView) -> str:
    rows = [[esc(e.get("label_studio_url") or "Label Studio"), esc(e.get("waiting_since") or ""),
             esc(e.get("events", "")), esc(e.get("last_error") or e.get("reason") or ""), esc(e.get("fix") or "")]
            for e in entries]
    body = table(["waiting for", "since", "events", "last error", "fix"], rows, "waiting") if rows else ""
    if view.pending_events:
        body += f"<p>{view.pending_events} webhook event(s) received and not applied yet.</p>"
    for event in view.failed_events:
        body += f'<p class="failed">event {event.id} ({esc(event.action)}) failed: <code>{esc(event.error)}</code></p>'
    return body


def label_issues_section(found: dict[str, Any]) -> str:
    if "error" in found:
        return f'<p class="failed">label-issue finder failed: {esc(found["error"])}</p>'
    scorecard = found.get("scorecard") or {}
    card = table(["measure", "value"], [[esc(k), esc(v)] for k, v in scorecard.items()]) if scorecard else ""
    candidates = found.get("candidates") or []
    rows = [[esc(c.get("task_id")), esc(c.get("given")), esc(c.get("suggested")), num(c.get("score")),
             num(c.get("suggested_probability")), esc(c.get("reason", ""))] for c in candidates[:20]]
    head = ["task", "given label", "suggested", found.get("score_name", "P(given label wrong)"),
            "P(suggested) by the model", "why"]
    listing = table(head, rows, "issues") if rows else \
        '<p class="empty">No label-issue candidates.</p>'
    return card + listing
