"""Honest live numbers: a random audit share gives an unbiased accuracy, intervals are Wilson, and a
projection the fit cannot support is called degenerate, never ok."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.pages.figures import learning_curve
from labelsieve.registry import Registries
from labelsieve.report.estimates import live_accuracy, wilson_interval
from labelsieve.report.prequential import project_labels
from labelsieve.service.audit import place_audit
from labelsieve.service.project_settings import ProjectSettingsError, resolve_settings
from labelsieve.settings import Settings
from labelsieve.storage.models import Annotation, QueryRound


def test_wilson_interval_is_sane_at_the_edges() -> None:
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(0, 12)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0.2 < hi < 0.3  # 0 of 12: up to a quarter is plausible
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.404, abs=1e-3) and hi == pytest.approx(0.596, abs=1e-3)


def test_audit_places_uniform_picks_in_the_head_and_keeps_a_permutation() -> None:
    order = np.arange(1000)[::-1].copy()
    picks = []
    for seed in range(400):
        new, audit = place_audit(order, share=0.2, batch_size=10, rng=np.random.default_rng(seed))
        assert sorted(new.tolist()) == list(range(1000)) and new[0] == order[0]
        assert len(audit) == 2 and set(audit.tolist()) <= set(new[:10].tolist())
        picks += audit.tolist()
    # uniform over the pool, not over the strategy's head: about 10% land in the strategy's top 100
    assert 0.04 < np.mean(np.array(picks) >= 900) < 0.18
    same, none = place_audit(order, share=0.0, batch_size=10, rng=np.random.default_rng(0))
    assert (same == order).all() and len(none) == 0


def _annotation(i: int, task: int, truth: str, predicted: str, version: str = "v1") -> Annotation:
    return Annotation(id=i, project_id=1, task_id=task, labels=[truth], predicted_labels=[predicted],
                      predicted_version=version)


def test_audited_labels_give_the_pool_accuracy_that_chosen_labels_hide() -> None:
    rng = np.random.default_rng(0)
    # the model is right on 80% of the pool; the strategy's picks are the hard ones (20% right)
    chosen = [_annotation(i, i, "a", "a" if rng.random() < 0.2 else "b") for i in range(200)]
    audited = [_annotation(1000 + i, 1000 + i, "a", "a" if rng.random() < 0.8 else "b") for i in range(60)]
    rounds = [QueryRound(project_id=1, model_version="v1", strategy="margin", seed=0,
                         audit=[a.task_id for a in audited])]
    biased = live_accuracy(chosen, [])
    assert not biased["unbiased"] and biased["value"] < 0.35 and "biased" in biased["method"]
    honest = live_accuracy(chosen + audited, rounds)
    assert honest["unbiased"] and honest["n"] == 60 and honest["n_scored"] == 260
    assert honest["ci"][0] < 0.8 < honest["ci"][1] and honest["value"] > 0.65
    random_round = [QueryRound(project_id=1, model_version="v1", strategy="random", seed=0)]
    assert live_accuracy(chosen, random_round)["n"] == 200  # a random strategy's picks are all an audit


def _points(n: list[int], acc: list[float], k: int = 12) -> list[dict]:
    return [{"n_labels": a, "accuracy": b, "n_scored": k} for a, b in zip(n, acc, strict=True)]


@pytest.mark.parametrize("acc", [[0.0, 0.0, 0.0, 0.0], [0.5, 0.4, 0.3, 0.2], [0.1, 0.05, 0.15, 0.0]])
def test_a_projection_from_flat_falling_or_zero_scores_is_degenerate(acc) -> None:
    projection = project_labels(_points([10, 20, 30, 40], acc))
    assert projection["status"] == "degenerate" and projection["reason"] and projection["labels_to_target"] is None


def test_a_real_learning_curve_projects_with_an_interval() -> None:
    n = [20, 40, 80, 160, 320]
    acc = [0.9 - 1.5 * x ** -0.5 for x in n]
    projection = project_labels(_points(n, acc, k=200), target=0.85)
    assert projection["status"] == "ok" and 0.85 < projection["plateau"] < 0.95
    lo, hi = projection["labels_to_target_ci"]
    assert lo <= projection["labels_to_target"] <= hi and projection["labels_to_target"] > 320


@pytest.mark.parametrize("bad", [0.9, -0.1, "a tenth", True])
def test_audit_share_outside_zero_to_half_is_refused_by_name(bad) -> None:
    with pytest.raises(ProjectSettingsError, match="audit_share must be a number from 0 to 0.5"):
        resolve_settings(settings=Settings(), extra={"audit_share": bad}, config=None, registries=Registries())


@pytest.mark.parametrize("hits", [0, 12])
def test_learning_curve_plots_scores_of_exactly_zero_and_one(hits) -> None:
    point = {"n_labels": 20, "accuracy": hits / 12, "n_scored": 12, "accuracy_ci": wilson_interval(hits, 12),
             "macro_f1": hits / 12}
    estimate = {"value": hits / 12, "ci": wilson_interval(hits, 12), "unbiased": True}
    uri = learning_curve({"curve": [point, {**point, "n_labels": 40}], "projection": {"status": "insufficient"},
                          "accuracy_estimate": estimate})
    assert uri is not None and uri.startswith("data:image/png;base64,")
