"""``report.json`` from a simulation folder: learning curves, savings against random, AULC, WSS@95.

Everything is read back from the stored runs (each run's database: model versions with their
held-out scores, query rounds, annotations in labelling order), so ``labelsieve report`` rebuilds
the same numbers without the data set. Only seeds that every strategy finished are compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.balancing.prepare import imbalance_ratio
from labelsieve.quality.confusion import confusion_summary, pooled
from labelsieve.quality.scorecard_files import load_scorecard
from labelsieve.report.html import render_html
from labelsieve.report.perclass import per_class_summary
from labelsieve.report.stopping import stopping_section
from labelsieve.settings import Settings
from labelsieve.simulate.heldout_scores import METRICS
from labelsieve.simulate.savings import (
    TARGETS,
    aulc,
    bootstrap_indices,
    curve_band,
    labels_to_target,
    median_labels,
    paired_savings,
    percentile_ci,
    time_to,
    wss_at,
)
from labelsieve.simulate.splitaudit import report_audit
from labelsieve.simulate.store import RunStore, StoreError, write_json_atomic
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import make_engine, session_scope

PROJECT_ID = 1


def read_run(store: RunStore, strategy: str, seed: int) -> dict[str, Any] | None:
    """One run's rounds (held-out scores, timings) and its labelling order, or None if absent."""
    if not store.has_run(strategy, seed):
        return None
    engine = make_engine(store.database_url(strategy, seed))
    try:
        with session_scope(engine) as session:
            versions = [v for v in crud.list_model_versions(session=session, project_id=PROJECT_ID)
                        if v.status == "ready" and "heldout" in (v.metrics or {})]
            select = {r.model_version: r.select_seconds for r in crud.list_query_rounds(
                session=session, project_id=PROJECT_ID)}
            annotations = crud.list_annotations(session=session, project_id=PROJECT_ID)
            n_pool = crud.count_tasks(session=session, project_id=PROJECT_ID)
    finally:
        engine.dispose()
    scorecard = None
    if versions:  # the final model's scorecard (``simulate --scorecard``): summary and the worst candidates
        models = Settings(data_dir=store.run_dir(strategy, seed), database_url="sqlite://").models_path
        rows, meta = load_scorecard(ArtifactStore(models), PROJECT_ID, versions[-1].version)
        if meta:
            scorecard = {**meta.get("summary", {}), "worst": [
                {k: getattr(r, k) for k in ("task_id", "label", "suggested_label", "issue_score", "value",
                                            "recommendation")} for r in rows if r.recommendation != "keep"][:10]}
    rounds = [{"n_labels": v.n_train, **v.metrics["heldout"], "fit_seconds": v.train_seconds,
               "select_seconds": select.get(v.version, 0.0)} for v in versions]
    return {"strategy": strategy, "seed": seed, "rounds": rounds, "n_pool": n_pool,
            "order_labels": [a.labels[0] for a in annotations if a.labels],
            "order_lead_times": [a.lead_time for a in annotations if a.labels], "scorecard": scorecard,
            "stop_sets": [v.metrics.get("stop_set") for v in versions]}


def build_report(root: Path, *, metric: str = "accuracy", targets: tuple[float, ...] = TARGETS,
                 rare_class: str | None = None, pr_at: int | None = None) -> dict[str, Any]:
    if metric not in METRICS:
        raise StoreError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    store = RunStore(root)
    config = store.config()
    # strategies named in the folder but never run (a later invocation dropped them) are left out
    strategies: list[str] = [s for s in config["strategies"] if any(store.has_run(s, k) for k in config["seeds"])]
    expected = 1 + int(np.ceil(max(0, config["budget"] - config["initial"]) / config["batch_size"]))
    runs: dict[str, dict[int, dict[str, Any]]] = {s: {} for s in strategies}
    seeds = []
    for seed in config["seeds"]:
        found = {s: read_run(store, s, seed) for s in strategies}
        if store.has_full(seed) and all(r is not None and len(r["rounds"]) >= min(expected, 1) for r in found.values()):
            lengths = {len(r["rounds"]) for r in found.values() if r is not None}
            if len(lengths) == 1:
                seeds.append(seed)
                for s, r in found.items():
                    runs[s][seed] = r  # type: ignore[assignment]
    if not seeds:
        raise StoreError(f"{root} holds no seed that every strategy ({', '.join(strategies)}) has finished; "
                         "run `labelsieve simulate` again with the same --out to continue")
    boot = bootstrap_indices(len(seeds))
    fulls = {seed: store.load_full(seed) for seed in seeds}  # the full-data model's run: score, pool classes
    full = np.array([fulls[seed]["metrics"][metric] for seed in seeds])
    censor_at = int(config["budget"]) + int(config["batch_size"])
    report: dict[str, Any] = {
        "protocol": config, "metric": metric, "seeds": seeds, "targets": list(targets),
        "complete_rounds": expected,
        "full_data": {"mean": float(full.mean()), "ci": percentile_ci(full, boot), "per_seed": full.tolist()},
        "strategies": {}, "savings": [],
    }
    report["audit"] = report_audit(fulls)  # the training pool against the test set: duplicates, leakage...
    report["class_balance"] = class_balance(fulls, runs, config["dataset"]["classes"])
    report["per_class"] = per_class_summary(store, runs, config["dataset"]["classes"],
                                            report["class_balance"]["pool"]["class_counts"], at=pr_at)
    report["scorecards"] = {s: {str(seed): runs[s][seed]["scorecard"] for seed in seeds if runs[s][seed]["scorecard"]}
                            for s in strategies}
    needed: dict[str, dict[float, list[int | None]]] = {}
    for s in strategies:
        seed_runs = [runs[s][seed] for seed in seeds]
        grid = np.array([row["n_labels"] for row in seed_runs[0]["rounds"]], dtype=np.int64)
        curves = {m: np.array([[row[m] for row in r["rounds"]] for r in seed_runs]) for m in METRICS}
        area = aulc(grid, curves[metric])
        final_recall = {c: float(np.mean([r["rounds"][-1]["per_class_recall"][c] for r in seed_runs]))
                        for c in config["dataset"]["classes"]}
        select = np.array([row["select_seconds"] for r in seed_runs for row in r["rounds"]])
        entry: dict[str, Any] = {
            "grid": grid.tolist(), "curves": {m: curve_band(curves[m], boot) for m in METRICS},
            "aulc": {"mean": float(area.mean()), "ci": percentile_ci(area, boot), "per_seed": area.tolist()},
            "final": {m: float(curves[m][:, -1].mean()) for m in METRICS},
            "per_class_recall": {"final": final_recall, "curves": {
                c: np.array([[row["per_class_recall"][c] for row in r["rounds"]] for r in seed_runs]).mean(
                    axis=0).tolist() for c in config["dataset"]["classes"]}},
            "select_seconds": {"mean": float(select.mean()), "max": float(select.max())},
            "fit_seconds": {"mean": float(np.mean([row["fit_seconds"] for r in seed_runs for row in r["rounds"]]))},
        }
        if rare_class is not None:
            if rare_class not in config["dataset"]["classes"]:
                raise StoreError(f"--rare-class {rare_class!r} is not a class of the data set")
            values = [wss_at(r["order_labels"], rare_class, r["n_pool"],
                             fulls[seed]["pool_class_counts"].get(rare_class, 0))
                      for seed, r in zip(seeds, seed_runs, strict=True)]
            entry["wss95"] = {"class": rare_class, "per_seed": values,
                              "reached": sum(v is not None for v in values)}
        needed[s] = {f: labels_to_target(grid, curves[metric], f * full) for f in targets}
        entry["labels_to_target"] = {
            str(f): {"per_seed": needed[s][f], "median": median_labels(needed[s][f], censor_at),
                     "reached": sum(v is not None for v in needed[s][f])} for f in targets}
        report["strategies"][s] = entry
    for s in strategies:
        if s == "random":
            continue
        for f in targets:
            row: dict[str, Any] = {
                "strategy": s, "target": f, "labels": median_labels(needed[s][f], censor_at),
                "random_labels": median_labels(needed["random"][f], censor_at),
                "reached": sum(v is not None for v in needed[s][f]),
                "random_reached": sum(v is not None for v in needed["random"][f]), "n_seeds": len(seeds),
                "censored": any(v is None for v in [*needed[s][f], *needed["random"][f]]),
            }
            row |= paired_savings(needed[s][f], needed["random"][f], censor_at=censor_at, boot=boot)
            row["annotation_seconds_saved"] = _seconds_saved(runs, s, seeds, needed, f)
            report["savings"].append(row)
    report["stopping"] = stopping_section(runs, seeds, dict(zip(seeds, full.tolist(), strict=True)), metric)
    report["confusion"] = final_confusions(store, runs, seeds)
    # leakage first: the first key of report.json, the first line of report.html
    return {"leakage": (report["audit"] or {}).get("leakage"), **report}


def final_confusions(store: RunStore, runs: dict[str, dict[int, dict[str, Any]]],
                     seeds: list[int]) -> dict[str, Any]:
    """Per strategy: the confusion matrix of the last round's test-set predictions, seeds added up (a strategy
    whose runs kept no test-set probabilities is left out)."""
    out: dict[str, Any] = {}
    for s, by_seed in runs.items():
        per_seed = []
        for seed in seeds:
            held = store.load_heldout(s, seed, int(by_seed[seed]["rounds"][-1]["n_labels"]))
            if held is not None:
                guess = [held["classes"][k] for k in held["proba"].argmax(axis=1)]
                per_seed.append(confusion_summary(held["truth"], guess, classes=held["classes"]))
        summary = pooled(per_seed)
        if summary is not None:
            out[s] = summary
    return out


def _ratio(counts: dict[str, float]) -> float | None:
    """Largest over smallest class count (inf when a class has none; None when nothing is counted)."""
    return imbalance_ratio(counts) or None


def class_balance(fulls: dict[int, dict[str, Any]], runs: dict[str, dict[int, dict[str, Any]]],
                  classes: list[str]) -> dict[str, Any]:
    """Diagnosis: class counts and imbalance ratio of the pool, and of the labels each strategy asked for
    (mean over seeds). Synthetic samples are never annotations, so they are not in these counts."""
    seeds = list(fulls)
    pool = {c: float(np.mean([fulls[seed]["pool_class_counts"].get(c, 0) for seed in seeds])) for c in classes}
    labelled = {}
    for s, by_seed in runs.items():
        counts = {c: float(np.mean([by_seed[seed]["order_labels"].count(c) for seed in seeds])) for c in classes}
        labelled[s] = {"class_counts": counts, "imbalance_ratio": _ratio(counts)}
    return {"pool": {"class_counts": pool, "imbalance_ratio": _ratio(pool)}, "labelled": labelled}


def _seconds_saved(runs: dict[str, dict[int, dict[str, Any]]], s: str, seeds: list[int],
                   needed: dict[str, dict[float, list[int | None]]], f: float) -> float | None:
    saved = []
    for k, seed in enumerate(seeds):
        a = time_to(runs[s][seed]["order_lead_times"], needed[s][f][k])
        b = time_to(runs["random"][seed]["order_lead_times"], needed["random"][f][k])
        if a is not None and b is not None:
            saved.append(b - a)
    return float(np.mean(saved)) if saved else None


def write_report(root: Path, **options: Any) -> tuple[Path, Path]:
    """Build the report from ``root``'s stored runs and write ``report.json`` and ``report.html``."""
    report = build_report(root, **options)
    json_path, html_path = root / "report.json", root / "report.html"
    write_json_atomic(json_path, report)
    html_path.write_text(render_html(report))
    return json_path, html_path
