"""labelsieve-rating: found through the entry point, accepted at /setup, trained and ranked by the service in a
round, predictions with a ``score`` on the rating region, and every strategy declaring it passes the conformance kit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from labelsieve_rating import Rating, RatingLearner, RatingOutput
from labelsieve_rating.conformance import register, review

from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.registry import get_registry
from labelsieve.tasktypes import task_type_for

RATING = '<View><Text name="text" value="$review"/><Rating name="stars" toName="text" maxRating="5"/></View>'
MIXED = ('<View><Text name="text" value="$review"/><Rating name="stars" toName="text"/>'
         '<Choices name="mood" toName="text"><Choice value="up"/><Choice value="down"/></Choices></View>')
ON_IMAGE = '<View><Image name="img" value="$image"/><Rating name="stars" toName="img"/></View>'


def _output(probas: dict[int, float], rating: int) -> RatingOutput:
    values = np.array(sorted(probas), dtype=np.float64)
    p = np.array([probas[int(v)] for v in values])
    return RatingOutput(values, p, rating, float(probas[rating]))


# ------------------------------------------------------------------------------------------ the task type alone
def test_the_entry_point_serves_rating_configs_and_refusals_name_the_tags() -> None:
    assert get_registry("task_types").info("rating").package == "labelsieve-rating"
    served = task_type_for(RATING)
    assert served.name == "rating"
    assert (served.config.from_name, served.config.data_key, served.config.labels) == (
        "stars", "review", ("1", "2", "3", "4", "5"))
    with pytest.raises(UnsupportedLabelConfig, match="<Rating name='stars'>.*<Choices name='mood'>"):
        task_type_for(MIXED)
    with pytest.raises(UnsupportedLabelConfig, match="must rate a <Text>"):
        task_type_for(ON_IMAGE)


def test_targets_predictions_and_cells() -> None:
    rating, config = Rating(), task_type_for(RATING).config
    result = [{"from_name": "stars", "to_name": "text", "type": "rating", "value": {"rating": 4}}]
    assert rating.target(result, config) == "4"
    assert config.annotation_labels(result) == ["4"]
    assert rating.target([{"from_name": "stars", "value": {"rating": 9}}], config) is None  # off the scale
    assert rating.target([], config) is None
    region = rating.prediction_result(config, _output({3: 0.2, 4: 0.7, 5: 0.1}, 4), preannotate=True)
    assert region == [{"from_name": "stars", "to_name": "text", "type": "rating", "value": {"rating": 4},
                       "score": pytest.approx(0.7)}]
    assert rating.prediction_result(config, _output({4: 1.0}, 4), preannotate=False) == []
    assert rating.target_from_cell(" 2 ", config) == "2" and rating.target_from_cell("", config) is None
    with pytest.raises(ValueError, match="'7' is not a whole number from 1 to 5"):
        rating.target_from_cell("7", config)


def test_expected_error_ranks_a_review_torn_between_far_ratings_first() -> None:
    """Least confidence cannot tell 1-vs-5 from 4-vs-5; the default aggregation, expected error in stars, can."""
    far, near, sure = _output({1: 0.45, 5: 0.55}, 5), _output({4: 0.45, 5: 0.55}, 5), _output({5: 1.0}, 5)
    rating = Rating()
    expected = rating.task_uncertainty([far, near, sure])
    np.testing.assert_allclose(expected, [0.45 * 4, 0.45, 0.0])
    least = rating.task_uncertainty([far, near, sure], "least_confidence")
    np.testing.assert_allclose(least, [0.45, 0.45, 0.0])
    with pytest.raises(ValueError, match="unknown aggregation 'max'.*expected_error"):
        rating.task_uncertainty([far], "max")


def test_metrics_and_a_flipped_label_found_by_cleanlab() -> None:
    rating = Rating()
    scores = rating.metrics(["1", "3", "5", "4"], ["2", "3", "5", "1"], ["1", "2", "3", "4", "5"])
    assert scores == {"mae": pytest.approx(1.0), "accuracy": 0.5, "within_one": 0.75}
    targets = ["1"] * 10 + ["5"] * 10
    targets[3] = "5"  # a 1-star review labelled 5
    outputs = [_output({1: 0.9, 5: 0.1}, 1)] * 10 + [_output({1: 0.1, 5: 0.9}, 5)] * 10
    issues = rating.label_issues(targets, outputs, ["1", "2", "3", "4", "5"])
    assert int(np.argmax(issues.issue_score)) == 3 and issues.flagged[3] and issues.suggested[3] == "1"


def test_the_learner_predicts_the_median_and_survives_save_and_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    stars = [int(s) for s in rng.integers(1, 6, size=60)]
    learner = RatingLearner(base_params={"embedding_model": None}).fit([review(s, rng) for s in stars],
                                                                      [str(s) for s in stars])
    assert learner.classes_ == ["1", "2", "3", "4", "5"]
    out = learner.predict_regions(["awful broken refund", "superb perfect love"])
    assert [o.rating for o in out] == [1, 5]
    learner.save(tmp_path)
    again = RatingLearner.load(tmp_path).predict_proba(["awful broken refund"])
    np.testing.assert_allclose(again, learner.predict_proba(["awful broken refund"]), atol=1e-6)


@pytest.mark.parametrize("method", ["class_weight", "random_over"])
def test_balancing_by_star_value_trains_the_learner(method: str) -> None:
    """supports_balancing is True: labelsieve's balancing runs on rating targets (few 1-star reviews here)."""
    from labelsieve.balancing.prepare import prepare_training_set

    rng = np.random.default_rng(4)
    stars = [5] * 30 + [4] * 10 + [1] * 4
    texts = [review(s, rng) for s in stars]
    targets = [Rating().balancing_key(str(s)) for s in stars]
    balanced = prepare_training_set(texts, targets, method=method, params={}, learner_name="rating",
                                    rng=np.random.default_rng(0))
    counts = {s: balanced.y.count(s) for s in ("1", "4", "5")}
    if method == "random_over":
        assert counts == {"1": 30, "4": 30, "5": 30}
    else:
        weights = np.asarray(balanced.sample_weight)
        assert weights[-1] > 5 * weights[0]  # a 1-star review weighs more than a 5-star one
    learner = RatingLearner(base_params={"embedding_model": None}).fit(
        balanced.X, balanced.y, sample_weight=balanced.sample_weight)
    assert learner.predict(["awful broken refund"]) == ["1"]


# ---------------------------------------------------------------------------------------- conformance kit
@pytest.fixture
def rating_context_registered() -> Iterator[None]:
    from labelsieve.testing import CONTEXT_FACTORIES

    before = dict(CONTEXT_FACTORIES)
    register()
    yield
    CONTEXT_FACTORIES.clear()
    CONTEXT_FACTORIES.update(before)  # other test files see the kit as labelsieve ships it


@pytest.mark.parametrize("name", ["task_uncertainty", "random", "coreset", "kmeans", "typiclust", "probcover"])
def test_strategies_serving_every_type_pass_the_kit_on_ratings(name: str, rating_context_registered: None) -> None:
    from labelsieve.testing import check_task_types

    assert "rating" in check_task_types(get_registry("strategies").create(name, {}))


def test_a_strategy_that_serves_single_label_only_is_refused_for_ratings(rating_context_registered: None) -> None:
    margin = get_registry("strategies").create("margin", {})
    assert not Rating().supports(margin) and Rating().supports(get_registry("strategies").create("kmeans", {}))


# ------------------------------------------------------------------------------------------ the service
def _payload(project: int, **more: object) -> dict:
    return {"project": f"{project}.1795352218", **more}


def _task(task_id: int, text: str, project: int) -> dict:
    return {"id": task_id, "data": {"review": text}, "project": project, "annotations": [], "predictions": []}


def _event(annotation_id: int, task: dict, project: int, stars: int) -> dict:
    result = [{"id": f"r{annotation_id}", "from_name": "stars", "to_name": "text", "type": "rating",
               "value": {"rating": stars}, "origin": "manual"}]
    annotation = {"id": annotation_id, "result": result, "was_cancelled": False, "ground_truth": False,
                  "lead_time": 2.0, "task": task["id"], "project": project, "completed_by": 1}
    return {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task,
            "project": {"id": project, "title": "reviews", "label_config": RATING}}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    from labelsieve.api.app import create_app
    from labelsieve.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                        debounce_seconds=0.2, torch_threads=1, label_studio_url=None, label_studio_api_key=None,
                        local_files_document_root=tmp_path / "files")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_setup_trains_ranks_and_predicts_a_rating_project(client: TestClient) -> None:
    project = 91
    refused = client.post("/setup", json=_payload(project, schema=RATING, extra_params={"strategy": "margin"}))
    assert refused.status_code == 400 and "'margin'" in refused.text and "'rating'" in refused.text
    balanced = client.post("/setup", json=_payload(project, schema=RATING, extra_params={"balancing": "class_weight"}))
    assert balanced.status_code == 200, balanced.text
    extra = {"learner_params": {"embedding_model": None}, "retrain_every": 1000, "preannotate_threshold": 0}
    setup = client.post("/setup", json=_payload(project, schema=RATING, extra_params=extra))
    assert setup.status_code == 200, setup.text

    rng = np.random.default_rng(1)
    clear = [_task(3000 + k, review(1 if k % 2 else 5, rng), project) for k in range(10)]
    torn = [_task(3100 + k, "awful broken superb perfect", project) for k in range(3)]
    pool = clear + torn
    assert client.post("/predict", json=_payload(project, tasks=pool, label_config=RATING)).status_code == 200
    for k, stars in enumerate(int(s) for s in rng.integers(1, 6, size=40)):
        task = _task(1000 + k, review(stars, rng), project)
        assert client.post("/webhook", json=_event(7000 + k, task, project, stars)).status_code == 200
    client.post("/webhook", json={"action": "START_TRAINING",
                                  "project": {"id": project, "title": "reviews", "label_config": RATING}})
    assert client.app.state.service.worker.wait_idle(180), "the retrain did not finish"

    body = client.post("/predict", json=_payload(project, tasks=pool, label_config=RATING))
    assert body.status_code == 200, body.text
    results = body.json()["results"]
    for result in results:
        (region,) = result["result"]
        assert region["type"] == "rating" and 1 <= region["value"]["rating"] <= 5 and 0 < region["score"] <= 1
        assert result["model_version"] != "labelsieve-v0"  # a trained version serves
    scores = [r["score"] for r in results]
    assert max(scores[10:]) < min(scores[:10]), "the torn reviews (1-star and 5-star words) must be served first"
    predicted = [r["result"][0]["value"]["rating"] for r in results[:10]]
    assert sum(p <= 2 for p in predicted[1::2]) >= 4 and sum(p >= 4 for p in predicted[0::2]) >= 4

    # five pool tasks labelled while this version serves: the type's own page section scores them (prequential)
    truth = [5, 1, 3, 3, 3]
    for k, (position, stars) in enumerate(zip([0, 1, 10, 11, 12], truth, strict=True)):
        assert client.post("/webhook", json=_event(7900 + k, pool[position], project, stars)).status_code == 200
    assert client.app.state.service.worker.wait_idle(180)
    errors = [abs(stars - results[position]["result"][0]["value"]["rating"])
              for position, stars in zip([0, 1, 10, 11, 12], truth, strict=True)]
    page = client.get(f"/projects/{project}/page")
    assert page.status_code == 200 and "Queue: what annotators see next" in page.text
    section = page.text.split('<section id="kind-rating">', 1)[1].split("</section>", 1)[0]
    assert f"Mean absolute error <b>{np.mean(errors):.3f}</b>" in section and "over 5 rated tasks" in section
    assert '<img class="plot"' in section and "Pool uncertainty (expected_error" in section


def test_the_docs_quote_the_entry_points_this_plugin_declares() -> None:
    root = Path(__file__).resolve().parents[3]
    page = (root / "docs" / "plugins.md").read_text()
    quoted = page.split("## A task type: what a third party implements", 1)[1].split("```toml\n", 1)[1].split("```")[0]
    assert quoted.strip() and all(line.split("#")[0].strip() in (root / "plugins" / "labelsieve-rating" /
                                                                 "pyproject.toml").read_text()
                                  for line in quoted.splitlines())
