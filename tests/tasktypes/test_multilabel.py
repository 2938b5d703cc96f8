"""Multi-label: targets round trip, aggregations, metrics, label issues, the one-vs-rest learner."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.learners.base import TrainingDataError
from labelsieve.learners.multilabel import MultiLabelLearner
from labelsieve.tasktypes import get_task_type, task_type_for
from labelsieve.tasktypes.multilabel_math import aggregate, indicator, multilabel_metrics, set_confidence

MULTI = ('<View><Text name="text" value="$text"/><Choices name="tags" toName="text" choice="multiple">'
         '<Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices></View>')
TAXONOMY = ('<View><Text name="text" value="$text"/><Taxonomy name="tax" toName="text">'
            '<Choice value="Animal"><Choice value="Cat"/><Choice value="Dog"/></Choice><Choice value="Plant"/>'
            '</Taxonomy></View>')


def test_targets_round_trip_through_label_studio_results() -> None:
    multi = get_task_type("multi_label")
    config = multi.parse_config(MULTI)
    result = [{"from_name": "tags", "to_name": "text", "type": "choices", "value": {"choices": ["c", "a"]}}]
    target = multi.target(result, config)
    assert target == ("a", "c")
    (output,) = multi.decode(np.array([[0.9, 0.2, 0.7]]), config.labels)
    regions = multi.prediction_result(config, output, preannotate=True)
    assert len(regions) == 1 and regions[0]["value"] == {"choices": ["a", "c"]}
    assert regions[0]["score"] == pytest.approx(0.9 * 0.8 * 0.7)  # P(exactly {a, c}) under independence
    assert multi.target(regions, config) == ("a", "c")  # what we predict reads back as the same target
    assert multi.prediction_result(config, output, preannotate=False) == []
    assert multi.target([], config) is None


def test_taxonomy_targets_are_leaves_and_results_carry_paths() -> None:
    served = task_type_for(TAXONOMY)
    multi, config = served.task_type, served.config
    result = [{"from_name": "tax", "to_name": "text", "type": "taxonomy",
               "value": {"taxonomy": [["Animal", "Dog"], ["Plant"]]}}]
    assert multi.target(result, config) == ("Dog", "Plant")
    (output,) = multi.decode(np.array([[0.1, 0.8, 0.9]]), config.labels)
    (region,) = multi.prediction_result(config, output, preannotate=True)
    assert region["type"] == "taxonomy" and region["value"] == {"taxonomy": [["Animal", "Dog"], ["Plant"]]}


def test_csv_cells_hold_pipe_separated_labels_and_cost_counts_labels() -> None:
    multi = get_task_type("multi_label")
    config = multi.parse_config(MULTI)
    assert multi.target_from_cell("c| a", config) == ("a", "c")
    assert multi.target_from_cell("", config) is None
    with pytest.raises(ValueError, match="'z'"):
        multi.target_from_cell("a|z", config)
    assert multi.cost(("a", "c")) == 2 and get_task_type("single_label").cost("a") == 1


def test_aggregations_rank_the_uncertain_task_first() -> None:
    probas = np.array([[0.5, 0.99, 0.01],   # one label on the fence
                       [0.7, 0.7, 0.3],     # every label somewhat unsure
                       [0.99, 0.01, 0.99]])  # sure of everything
    mean, mx, margin = (aggregate(probas, a) for a in ("mean", "max", "min_margin"))
    assert np.argmax(mean) == 1 and np.argmin(mean) == 2
    assert np.argmax(mx) == 0 and np.argmax(margin) == 0
    assert np.isfinite(aggregate(np.zeros((2, 3)), "mean")).all()
    with pytest.raises(ValueError, match="unknown multi-label aggregation"):
        aggregate(probas, "median")
    # the margin is measured to each label's own threshold
    near = aggregate(np.array([[0.3, 0.9]]), "min_margin", np.array([0.3, 0.5]))
    assert near[0] == pytest.approx(1.0)
    assert set_confidence(np.array([[0.9, 0.2]]))[0] == pytest.approx(0.72)


def test_metrics() -> None:
    labels = ["a", "b", "c"]
    truth = indicator([("a",), ("a", "b"), ("c",), ("b", "c")], labels)
    pred = indicator([("a",), ("a",), ("c",), ("b", "c")], labels)
    m = multilabel_metrics(truth, pred)
    assert m["subset_accuracy"] == pytest.approx(0.75)
    assert m["hamming_loss"] == pytest.approx(1 / 12)
    assert m["micro_f1"] == pytest.approx(2 * 5 / (2 * 5 + 1))
    assert 0 < m["macro_f1"] < 1
    assert get_task_type("multi_label").metrics([("a",)], [("a",)], labels)["subset_accuracy"] == 1.0


def test_label_issues_flag_the_flipped_label_sets() -> None:
    rng = np.random.default_rng(0)
    n, labels = 120, ["a", "b", "c"]
    truth = rng.random((n, 3)) < 0.4
    probas = np.where(truth, rng.uniform(0.75, 0.95, truth.shape), rng.uniform(0.05, 0.25, truth.shape))
    given = truth.copy()
    flipped = np.arange(0, n, 12)
    given[flipped] = ~given[flipped]
    targets = [tuple(labels[j] for j in np.flatnonzero(row)) for row in given]
    issues = get_task_type("multi_label").label_issues(targets, probas, labels)
    assert set(np.flatnonzero(issues.flagged)) >= set(flipped)
    assert issues.issue_score[flipped].mean() > issues.issue_score[np.setdiff1d(np.arange(n), flipped)].mean()
    assert issues.suggested[flipped[0]] == tuple(labels[j] for j in np.flatnonzero(truth[flipped[0]]))


def test_one_vs_rest_learner_learns_per_label_and_round_trips(tmp_path) -> None:
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(n_samples=300, n_features=10, n_classes=4, random_state=1)
    names = [tuple(f"l{j}" for j in np.flatnonzero(row)) for row in y]
    learner = MultiLabelLearner(base="vector").fit(list(x[:200]), names[:200], unlabeled=list(x[200:]))
    assert learner.classes_ == ["l0", "l1", "l2", "l3"] and learner.input_kind == "vector"
    proba = learner.predict_proba(list(x[200:]))
    assert proba.shape == (100, 4) and not np.allclose(proba.sum(axis=1), 1.0)
    pred = indicator(learner.predict_sets(list(x[200:])), learner.classes_)
    assert multilabel_metrics(y[200:], pred)["micro_f1"] > 0.6
    assert ((learner.thresholds_ > 0) & (learner.thresholds_ < 1)).all()
    learner.save(tmp_path)
    again = MultiLabelLearner.load(tmp_path)
    assert np.allclose(again.predict_proba(list(x[200:])), proba, atol=1e-5)


def test_learner_refuses_a_single_label_set() -> None:
    with pytest.raises(TrainingDataError, match="same label set"):
        MultiLabelLearner(base="vector").fit([np.ones(3), np.zeros(3)], [("a",), ("a",)])


def test_text_base_learns_on_tfidf_features() -> None:
    texts = ["cheap flights to paris", "football match tonight", "paris football club wins",
             "discount hotel in rome", "tennis final result", "rome travel guide and football"] * 4
    sets = [("travel",), ("sport",), ("sport", "travel"), ("travel",), ("sport",), ("sport", "travel")] * 4
    learner = MultiLabelLearner(base="text").fit(texts, sets)
    proba = learner.predict_proba(["weekend in paris", "football scores"])
    travel, sport = learner.classes_.index("travel"), learner.classes_.index("sport")
    assert proba[0, travel] > proba[1, travel] and proba[1, sport] > proba[0, sport]


def test_the_ranking_context_carries_the_task_type_and_its_uncertainty() -> None:
    from sklearn.datasets import make_multilabel_classification

    from labelsieve.service.ranking import build_context

    x, y = make_multilabel_classification(n_samples=80, n_features=6, n_classes=3, random_state=2)
    sets = [tuple(f"l{j}" for j in np.flatnonzero(row)) or ("l0",) for row in y]
    learner = MultiLabelLearner(base="vector").fit(list(x[:50]), sets[:50])
    probas, embeddings = learner.infer(list(x[50:]))
    ctx = build_context(learner=learner, pool_inputs=list(x[50:]), labeled_inputs=list(x[:50]),
                        labeled_y=sets[:50], pool_ids=np.arange(30), seed=0, probas=probas, embeddings=embeddings,
                        task_type=get_task_type("multi_label"))
    assert ctx.task_type == "multi_label" and np.allclose(ctx.thresholds, learner.thresholds_)
    assert ctx.labeled_targets.shape == (50, 3) and ctx.labeled_targets.sum() == sum(len(s) for s in sets[:50])
    assert np.allclose(ctx.task_uncertainty, aggregate(probas, "mean"))
