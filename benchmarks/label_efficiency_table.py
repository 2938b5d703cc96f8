"""Tables of benchmarks/label_efficiency.py from what its ``--out`` folder holds (one section per data set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from common import machine_line

from labelsieve.report.build import read_run
from labelsieve.settings import ProjectSettings
from labelsieve.simulate.compare import accuracy_at, censored, labels_to_absolute, paired_difference
from labelsieve.simulate.savings import aulc, bootstrap_indices, labels_to_target, median_labels, paired_savings
from labelsieve.simulate.store import RunStore

DEFAULT_STRATEGY = ProjectSettings().strategy
BOOTSTRAP_SEED = 2026


def collect(name: str, plan: list[dict[str, Any]], out: Path, seeds: list[int]) -> tuple[dict, dict]:
    """``methods``: name → (grid, seeds × rounds accuracy); ``full``: recipe → per-seed full-data accuracy."""
    methods: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    full: dict[str, list[float]] = {}
    for recipe in plan:
        store = RunStore(out / name / f"ls-{recipe['label']}")
        if not (store.root / "config.json").exists() or not all(store.has_full(s) for s in seeds):
            continue  # a recipe run on fewer seeds is compared on its own (learner_comparison)
        full[recipe["label"]] = [store.load_full(s)["metrics"]["accuracy"] for s in seeds]
        for strategy in [*recipe["strategies"], "random"]:
            runs = [read_run(store, strategy, s) for s in seeds]
            if any(r is None or not r["rounds"] for r in runs):
                continue
            grid = np.array([row["n_labels"] for row in runs[0]["rounds"]])
            methods[f"{recipe['label']}:{strategy}"] = (grid, np.array([[row["accuracy"] for row in r["rounds"]]
                                                                         for r in runs]))
    direct = [json.loads(path.read_text()) for path in sorted((out / name).glob("direct*.json"))]
    if direct and "default" not in full:  # labelsieve's rounds replayed without the service (direct_runs.py)
        full["default"] = [next(d["full_data"][str(s)] for d in direct if str(s) in d["full_data"]) for s in seeds]
        methods |= curves_of([r for d in direct for r in d["runs"]], seeds)
    peers = json.loads((out / name / "peers.json").read_text())
    full["peers"] = [peers["full_data"][str(s)] for s in seeds]
    methods |= curves_of(peers["runs"], seeds)
    return methods, full


def curves_of(runs: list[dict[str, Any]], seeds: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Methods run on every seed: their grid and seeds × rounds accuracy (rows in seed order)."""
    methods = {}
    for method in sorted({r["method"] for r in runs}):
        by_seed = {r["seed"]: r for r in reversed(runs) if r["method"] == method and r["seed"] in seeds}
        mine = [by_seed[s] for s in sorted(by_seed)]  # one run per seed (a rerun of the same seed is the same run)
        if len(mine) == len(seeds):
            methods[method] = (np.array(mine[0]["grid"]), np.array([r["accuracy"] for r in mine]))
    return methods


def library(method: str) -> str:
    return method.split(":")[0] if method.split(":")[0] in ("scikit-activeml", "modAL", "small-text") else "labelsieve"


def section(name: str, plan: list[dict[str, Any]], out: Path, spec: dict[str, Any], fractions: tuple[float, ...],
            auto_learner: str, seeds: list[int]) -> tuple[list[str], list[dict[str, Any]]]:
    methods, full = collect(name, plan, out, seeds)
    reference = np.max(np.array(list(full.values())), axis=0)  # per seed: the best recipe's full-data accuracy
    censor = spec["budget"] + spec["batch"]
    targets: dict[str, Any] = {f"{spec['absolute']:.2f}": spec["absolute"]}
    targets |= {f"{f:.0%} full": f * reference for f in fractions}
    labels: dict[str, dict[str, list[int | None]]] = {}
    for method, (grid, curves) in methods.items():
        labels[method] = {key: (labels_to_absolute(grid, curves, t) if np.ndim(t) == 0
                                else labels_to_target(grid, curves, t)) for key, t in targets.items()}
    default = f"default:{DEFAULT_STRATEGY}"
    rand = labels.get("default:random")
    rand_censor, long_note = censor, ""
    long_path = out / name / "random_long.json"
    if long_path.exists() and (long := curves_of(json.loads(long_path.read_text())["runs"], seeds)):
        grid_l, curves_l = long["default:random"]  # random run on past the budget: its own labels to each target
        rand_censor = int(grid_l[-1]) + spec["batch"]
        rand = {key: (labels_to_absolute(grid_l, curves_l, t) if np.ndim(t) == 0
                      else labels_to_target(grid_l, curves_l, t)) for key, t in targets.items()}
        long_note = (f"; savings against random run on to {grid_l[-1]} labels (median labels to 98%: "
                     f"{median_labels(rand['98% full'], rand_censor)}, reached on "
                     f"{sum(v is not None for v in rand['98% full'])}/{len(seeds)} seeds)")
    boot = bootstrap_indices(len(seeds), seed=BOOTSTRAP_SEED)
    recipes = ", ".join(f"{k} {np.mean(v):.4f}" for k, v in full.items())
    lines = [f"### {name}", "",
             f"{len(seeds)} seeds, budget {spec['budget']}, batch {spec['batch']}, `auto` learner here: "
             f"`{auto_learner}`; full-data accuracy (mean) by recipe: {recipes}; targets: accuracy "
             f"{spec['absolute']:.2f} and 95% / 98% of the best recipe's full-data accuracy per seed (mean "
             f"{reference.mean():.4f}); `>budget` = not reached by {spec['budget']} labels (counted as {censor})"
             f"{long_note}", "",
             "| method | acc@20 | acc@50 | acc@100 | " + " | ".join(f"labels to {k}" for k in targets)
             + " | savings to 98% vs random [95% CI] | AULC |", "|---" * (6 + len(targets)) + "|"]
    for method, (grid, curves) in methods.items():
        cells = [f"{'**' if method == default else ''}{method}{'**' if method == default else ''}"]
        cells += ["—" if (a := accuracy_at(grid, curves, n)) is None else f"{a:.3f}" for n in (20, 50, 100)]
        cells += [f"{median_labels(v, censor)} ({sum(x is not None for x in v)}/{len(seeds)})"
                  for v in labels[method].values()]
        if rand is not None and method != "default:random":
            mine = [censor if v is None else v for v in labels[method]["98% full"]]
            theirs = [rand_censor if v is None else v for v in rand["98% full"]]
            s = paired_savings(mine, theirs, censor_at=rand_censor, boot=boot)
            cells.append(f"{s['savings']:.1%} [{s['savings_ci'][0]:.1%}, {s['savings_ci'][1]:.1%}]")
        else:
            cells.append("—")
        cells.append(f"{aulc(grid, curves).mean():.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    summary = []
    lines += ["", "| target | peer library | peer's best | labels: peer − labelsieve default [95% CI] | "
              "labelsieve's best | labels: peer − labelsieve best [95% CI] |", "|---|---|---|---|---|---|"]
    for key in targets:
        def mean_labels(m: str, key: str = key) -> tuple[float, float]:
            return float(censored(labels[m][key], censor).mean()), -float(aulc(*methods[m]).mean())

        ours = [m for m in methods if library(m) == "labelsieve" and not m.endswith(":random")]
        if not ours:
            continue
        best = min(ours, key=mean_labels)
        for lib in ("scikit-activeml", "modAL", "small-text"):
            theirs = [m for m in methods if library(m) == lib]
            if not theirs:
                continue
            peer = min(theirs, key=mean_labels)
            row = {"dataset": name, "target": key, "library": lib, "peer": peer, "best": best,
                   "peer_mean": mean_labels(peer)[0], "best_mean": mean_labels(best)[0]}
            cells = [key, lib, f"{peer} ({row['peer_mean']:.1f})"]
            if default in labels:
                d = paired_difference(labels[default][key], labels[peer][key], censor_at=censor, rng=BOOTSTRAP_SEED)
                cells.append(d.cell())
                row["default_vs_peer"] = d
            else:
                cells.append("—")
            b = paired_difference(labels[best][key], labels[peer][key], censor_at=censor, rng=BOOTSTRAP_SEED)
            cells += [f"{best} ({row['best_mean']:.1f})", b.cell()]
            row["best_vs_peer"] = b
            lines.append("| " + " | ".join(cells) + " |")
            summary.append(row)
    (out / name / "labels.json").write_text(json.dumps({"seeds": seeds, "reference": reference.tolist(),
                                                        "labels": labels}))
    return lines, summary


def write_tables(names: list[str], plan: list[dict[str, Any]], out: Path, specs: dict[str, dict[str, Any]],
                 fractions: tuple[float, ...], auto: dict[str, str]) -> str:
    lines = [f"machine: {machine_line()}", ""]
    rows: list[dict[str, Any]] = []
    for name in names:
        seeds = sorted(int(k) for k in json.loads((out / name / "peers.json").read_text())["full_data"])
        part, summary = section(name, plan, out, specs[name], fractions, auto[name], seeds)
        lines += [*part, ""]
        rows += summary
    for name in names:
        if specs[name] and (comparison := learner_comparison(name, out, specs[name], fractions)):
            lines += [f"### {name}: TF-IDF against sentence embeddings (the text learner's two recipes)", "",
                      *comparison, ""]
    lines += ["### Summary: labelsieve against each data set's best peer", "",
              "| data set | target | best peer (mean labels) | labelsieve default: peer − ours [95% CI] | "
              "labelsieve best (mean labels) | peer − ours [95% CI] |", "|---|---|---|---|---|---|"]
    for name in names:
        for target in dict.fromkeys(r["target"] for r in rows if r["dataset"] == name):
            group = [r for r in rows if r["dataset"] == name and r["target"] == target]
            top = min(group, key=lambda r: r["peer_mean"])
            default = top.get("default_vs_peer")
            lines.append(f"| {name} | {target} | {top['peer']} ({top['peer_mean']:.1f}) | "
                         f"{default.cell() if default else '—'} | {top['best']} ({top['best_mean']:.1f}) | "
                         f"{top['best_vs_peer'].cell()} |")
    text = "\n".join(lines)
    (out / "table.md").write_text(text + "\n")
    return text


def learner_comparison(name: str, out: Path, spec: dict[str, Any], fractions: tuple[float, ...],
                       a: str = "tfidf", b: str = "default") -> list[str]:
    """Two recipes under random sampling on the seeds both have (a learner choice, strategy held fixed)."""
    stores = {label: RunStore(out / name / f"ls-{label}") for label in (a, b)}
    if not all((s.root / "config.json").exists() for s in stores.values()):
        return []
    seeds = [k for k in range(100) if all(s.has_run("random", k) and s.has_full(k) for s in stores.values())]
    runs = {label: [read_run(s, "random", k) for k in seeds] for label, s in stores.items()}
    seeds = [k for i, k in enumerate(seeds) if all(runs[lab][i] and runs[lab][i]["rounds"] for lab in runs)]
    if not seeds:
        return []
    runs = {label: [read_run(s, "random", k) for k in seeds] for label, s in stores.items()}
    n_rounds = min(len(r["rounds"]) for rs in runs.values() for r in rs)
    grid = np.array([row["n_labels"] for row in runs[a][0]["rounds"][:n_rounds]])
    curves = {lab: np.array([[row["accuracy"] for row in r["rounds"][:n_rounds]] for r in rs])
              for lab, rs in runs.items()}
    full = {lab: [s.load_full(k)["metrics"]["accuracy"] for k in seeds] for lab, s in stores.items()}
    reference = np.max([full[a], full[b]], axis=0)
    censor = int(grid[-1]) + spec["batch"]
    # 0.60 as well: within this budget neither recipe reaches the data set's absolute target under random sampling
    targets: dict[str, Any] = {"0.60": 0.60, f"{spec['absolute']:.2f}": spec["absolute"]}
    targets |= {f"{f:.0%} full": f * reference for f in fractions}
    lines = [f"{name}, random sampling, seeds {', '.join(map(str, seeds))} (both recipes), budget {grid[-1]}; "
             f"full-data accuracy {a} {np.mean(full[a]):.4f}, {b} {np.mean(full[b]):.4f}", "",
             "| recipe | acc@20 | acc@50 | acc@100 | " + " | ".join(f"labels to {k}" for k in targets) + " |",
             "|---" * (4 + len(targets)) + "|"]
    labels = {}
    for lab in (a, b):
        labels[lab] = {k: (labels_to_absolute(grid, curves[lab], t) if np.ndim(t) == 0
                           else labels_to_target(grid, curves[lab], t)) for k, t in targets.items()}
        cells = [f"{lab}:random"] + ["—" if (v := accuracy_at(grid, curves[lab], n)) is None else f"{v:.3f}"
                                     for n in (20, 50, 100)]
        cells += [f"{median_labels(v, censor)} ({sum(x is not None for x in v)}/{len(seeds)})"
                  for v in labels[lab].values()]
        lines.append("| " + " | ".join(cells) + " |")
    diffs = [f"{k}: {paired_difference(labels[b][k], labels[a][k], censor_at=censor, rng=BOOTSTRAP_SEED).cell()}"
             for k in targets]
    lines += ["", f"labels {a} − {b}, paired by seed [95% CI]: " + "; ".join(diffs)]
    return lines
