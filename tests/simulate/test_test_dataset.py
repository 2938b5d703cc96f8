"""``simulate --test-dataset``: a fixed labelled set scores every round, is recorded and shown; a bad one is refused.
The report's per-class section: recall and precision per class, and PR curves of the rarest pool classes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve
from typer.testing import CliRunner

from labelsieve.registry import get_registry
from labelsieve.report.perclass import interpolated_precision
from labelsieve.simulate.store import RunStore
from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary

RATIO = 20  # head class 60 items, rarest 3
ARGS = ["--strategies", "margin", "--seeds", "2", "--budget", "40", "--initial", "20", "--batch-size", "10"]


def _frame(rows: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[f"p{k}" for k in range(rows.shape[1])])
    frame["label"] = [f"digit{d}" for d in labels]
    return frame


@pytest.fixture(scope="module")
def long_tail(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A long-tailed pool CSV (digit k keeps 60 * 20^(-k/9) items) and a balanced test CSV of other items."""
    digits = load_digits()
    rng = np.random.default_rng(3)
    pool, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(digits.target == digit))
        test.extend(members[:30])
        pool.extend(members[30:30 + max(1, round(60 * RATIO ** (-digit / 9)))])
    root = tmp_path_factory.mktemp("longtail")
    paths = {"pool": root / "pool.csv", "test": root / "test.csv"}
    _frame(digits.data[pool], digits.target[pool]).to_csv(paths["pool"], index=False)
    _frame(digits.data[test], digits.target[test]).to_csv(paths["test"], index=False)
    return {"root": root, **paths, "X_pool": digits.data[pool].astype(np.float32),
            "y_pool": [f"digit{d}" for d in digits.target[pool]], "X_test": digits.data[test].astype(np.float32),
            "y_test": [f"digit{d}" for d in digits.target[test]]}


def _simulate(args: list[str]) -> tuple[int, str]:
    from labelsieve.cli import app

    result = CliRunner().invoke(app, ["simulate", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def fixed_run(long_tail: dict[str, object]) -> Path:
    out = Path(str(long_tail["root"])) / "fixed"
    code, output = _simulate(["--dataset", str(long_tail["pool"]), "--test-dataset", str(long_tail["test"]),
                              *ARGS, "--out", str(out)])
    assert code == 0, output
    return out


def test_rounds_are_scored_on_the_fixed_test_set(long_tail: dict[str, object], fixed_run: Path) -> None:
    report = json.loads((fixed_run / "report.json").read_text())
    test = report["protocol"]["test_dataset"]
    assert test["name"] == "test" and test["path"] == str(long_tail["test"]) and test["n"] == 300
    assert set(test["class_counts"].values()) == {30}  # balanced
    assert report["protocol"]["test_fraction"] is None
    # the whole pool is labellable: the full-data model trains on all of it and scores the fixed test set
    full = RunStore(fixed_run).load_full(0)
    assert full["n_train"] == len(long_tail["y_pool"])
    params = {"random_state": int(np.random.SeedSequence([0, 0]).generate_state(1)[0] % 2**31)}
    learner = get_registry("learners").create("vector", params).fit(long_tail["X_pool"], long_tail["y_pool"])
    expected = f1_score(long_tail["y_test"], learner.predict(long_tail["X_test"]), average="macro")
    assert full["metrics"]["macro_f1"] == pytest.approx(expected, abs=1e-9)
    # every round was scored on the 300 test items (30 per class), not on a split of the pool
    held = RunStore(fixed_run).load_heldout("margin", 1, 40)
    assert held is not None and sorted(held["truth"]) == sorted(long_tail["y_test"])
    predicted = [held["classes"][k] for k in held["proba"].argmax(axis=1)]
    final = report["strategies"]["margin"]["curves"]["macro_f1"]["mean"][-1]
    other = RunStore(fixed_run).load_heldout("margin", 0, 40)
    assert other is not None
    predicted0 = [other["classes"][k] for k in other["proba"].argmax(axis=1)]
    assert final == pytest.approx(np.mean([f1_score(other["truth"], predicted0, average="macro"),
                                           f1_score(held["truth"], predicted, average="macro")]), abs=2e-3)
    page = (fixed_run / "report.html").read_text()
    assert f"fixed test set test ({long_tail['test']}, 300 items; digit0: 30" in page


def test_the_fixed_test_set_gives_other_numbers_than_a_pool_split(long_tail: dict[str, object],
                                                                  fixed_run: Path) -> None:
    out = Path(str(long_tail["root"])) / "split"
    code, output = _simulate(["--dataset", str(long_tail["pool"]), *ARGS, "--out", str(out)])
    assert code == 0, output
    split = json.loads((out / "report.json").read_text())
    fixed = json.loads((fixed_run / "report.json").read_text())
    assert split["protocol"]["test_dataset"] is None and "held-out fraction 0.2" in (out / "report.html").read_text()
    # a split of a long-tailed pool holds 1 item of the rarest digit; the balanced set holds 30
    held = RunStore(out).load_heldout("margin", 0, 40)
    assert held is not None and held["truth"].count("digit9") <= 1 and len(held["truth"]) < 100
    assert split["full_data"]["per_seed"] != fixed["full_data"]["per_seed"]
    assert split["strategies"]["margin"]["final"]["macro_f1"] != fixed["strategies"]["margin"]["final"]["macro_f1"]


def test_a_different_test_set_is_not_mixed_into_the_same_folder(long_tail: dict[str, object], fixed_run: Path,
                                                               tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    frame = pd.read_csv(long_tail["test"])
    frame.iloc[::2].to_csv(other, index=False)
    code, message = _simulate(["--dataset", str(long_tail["pool"]), "--test-dataset", str(other), *ARGS,
                               "--out", str(fixed_run)])
    assert code == 2 and "holds runs made with other settings" in message and "test_dataset" in message


def test_bad_test_sets_are_refused_with_the_reason(long_tail: dict[str, object], tmp_path: Path) -> None:
    base = ["--dataset", str(long_tail["pool"]), *ARGS, "--out", str(tmp_path / "o")]
    frame = pd.read_csv(long_tail["test"])
    unknown = tmp_path / "unknown.csv"
    frame.assign(label=["digit42" if k == 0 else v for k, v in enumerate(frame["label"])]).to_csv(unknown, index=False)
    code, message = _simulate([*base, "--test-dataset", str(unknown)])
    assert code == 2 and "label(s) 'digit42' that the pool does not have" in message

    empty = tmp_path / "empty.csv"
    frame.iloc[:0].to_csv(empty, index=False)
    code, message = _simulate([*base, "--test-dataset", str(empty)])
    assert code == 2 and "--test-dataset" in message and "empty.csv has no labelled rows" in message

    narrow = tmp_path / "narrow.csv"
    frame.drop(columns=["p0", "p1"]).to_csv(narrow, index=False)
    code, message = _simulate([*base, "--test-dataset", str(narrow)])
    assert code == 2 and "features (62,) but the pool's have (64,)" in message

    texts = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["a seven", "a nine"], "label": ["digit7", "digit9"]}).to_csv(texts, index=False)
    code, message = _simulate([*base, "--test-dataset", str(texts)])
    assert code == 2 and "holds text items but the pool" in message and "holds vector items" in message

    missing = tmp_path / "missing.csv"
    frame[frame["label"] != "digit9"].to_csv(missing, index=False)
    code, message = _simulate([*base, "--test-dataset", str(missing)])
    assert code == 2 and "no item of pool class(es) 'digit9'" in message

    code, message = _simulate([*base, "--test-dataset", str(tmp_path / "nowhere.csv")])
    assert code == 2 and "--test-dataset" in message and "does not exist" in message


def test_report_shows_pr_curves_of_the_rarest_classes(long_tail: dict[str, object], fixed_run: Path) -> None:
    report = json.loads((fixed_run / "report.json").read_text())
    section = report["per_class"]
    assert section["minority"] == ["digit9", "digit8", "digit7"]  # rarest in the pool, rarest first
    store = RunStore(fixed_run)
    for strategy in ("margin", "random"):
        entry = section["strategies"][strategy]
        assert entry["n_labels"] == 40
        curve = entry["pr_curves"]["digit9"]
        aps, grids = [], []
        for seed in (0, 1):  # recomputed from the stored probabilities with sklearn
            held = store.load_heldout(strategy, seed, 40)
            assert held is not None
            positive = np.asarray(held["truth"]) == "digit9"
            scores = held["proba"][:, held["classes"].index("digit9")] if "digit9" in held["classes"] else \
                np.zeros(len(positive))
            aps.append(average_precision_score(positive, scores))
            grids.append(interpolated_precision(positive, scores))
            precision, recall, _ = precision_recall_curve(positive, scores)
            assert grids[-1][0] == pytest.approx(precision.max())
        assert curve["ap"] == pytest.approx(np.mean(aps))
        assert curve["precision"] == pytest.approx(np.mean(grids, axis=0).tolist())
        assert curve["prevalence"] == pytest.approx(0.1)
        recall = entry["per_class"]["digit9"]["recall"]
        assert 0.0 <= recall <= 1.0 and entry["per_class"]["digit9"]["precision"] is not None
    page = (fixed_run / "report.html").read_text()
    assert "Precision-recall curves of the minority classes" in page
    assert "Minority classes = the rarest by pool frequency: digit9, digit8, digit7" in page
    assert re.search(r"<td class='name'>digit9 \(minority\)</td><td>3</td><td>\d\.\d{3}</td>", page)
    assert "<th>macro-F1</th><th>G-mean</th>" in page
    images = re.findall(r'<img[^>]*src=["\']([^"\']+)', page)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)


PROBE = """(() => [...document.querySelectorAll('img')].map(i => [i.alt, i.complete, i.naturalWidth,
  i.naturalHeight]))()"""


def test_chromium_renders_the_pr_curves(fixed_run: Path) -> None:
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))  # make test installs it
    browser = Chromium().start()
    try:
        visit = browser.visit((fixed_run / "report.html").resolve().as_uri(), probe=PROBE)
    finally:
        browser.stop()
    images = {alt: (done, width, height) for alt, done, width, height in visit.dom}
    done, width, height = images["precision-recall curves of the minority classes"]
    assert done and width > 600 and height > 200  # three panels side by side, decoded by the browser


def test_a_random_seed_set_need_not_hold_every_class(long_tail: dict[str, object], tmp_path: Path) -> None:
    from labelsieve.simulate.splits import make_pool_split

    labels = np.asarray(long_tail["y_pool"], dtype=object)
    stratified = make_pool_split(labels, base_seed=0, seed=0, initial=10)
    uniform = make_pool_split(labels, base_seed=0, seed=0, initial=10, sampling="random")
    assert len(set(labels[stratified.initial])) == 10  # one of each digit
    assert len(set(labels[uniform.initial])) < 10  # a uniform draw from a long tail misses the rare digits
    code, message = _simulate(["--dataset", str(long_tail["pool"]), "--initial-sampling", "clustered", *ARGS,
                               "--out", str(tmp_path / "o")])
    assert code == 2 and "--initial-sampling must be stratified or random, got 'clustered'" in message
