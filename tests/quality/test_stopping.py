"""The stopping signal (stabilising predictions): the rule, and the live project status that shows it."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from labelsieve.quality.stopping import STOP_MESSAGE, StopRule, agreement, choose_stop_set, kappa_series
from tests.factories import TEXT_CONFIG, annotation_event, ls_task, predict_payload, setup_payload


def records(predictions: list[list[str]]) -> list[dict[str, list]]:
    return [{"ids": list(range(len(p))), "labels": p} for p in predictions]


def digits_models(sizes: list[int]) -> list[list[str]]:
    """Predictions on a fixed stop set of logistic regressions fitted on more and more digits."""
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target.astype(str)
    order = np.random.default_rng(0).permutation(len(y))
    stop_set, train = order[:400], order[400:]
    return [LogisticRegression(max_iter=500).fit(x[train[:n]], y[train[:n]]).predict(x[stop_set]).tolist()
            for n in sizes]


def test_the_signal_fires_on_predictions_that_have_flattened_and_not_on_rising_ones() -> None:
    rule = StopRule(threshold=0.99, window=3)
    rising = kappa_series(records(digits_models([20, 40, 60, 80, 100])))  # a learning curve still climbing
    assert not rule.fired(rising), rising
    assert rule.first_stop(rising) is None
    flat = digits_models([1390, 1392, 1394, 1396])  # the same data, two labels more each time
    assert rule.fired(kappa_series(records(flat)))
    assert rule.first_stop(kappa_series(records(digits_models([20, 40, 1390, 1392, 1394, 1396])))) == 4


def test_kappa_is_one_for_identical_predictions_and_counts_only_shared_tasks() -> None:
    assert agreement(["a", "a"], ["a", "a"]) == 1.0  # kappa is undefined on one label: identical is stable
    assert agreement(["a", "b", "a", "b"], ["b", "a", "b", "a"]) < 0
    before = {"ids": [1, 2, 3], "labels": ["a", "b", "a"]}
    after = {"ids": [2, 3, 4], "labels": ["b", "a", "b"]}  # task 1 failed to load this time
    assert kappa_series([before, None, after]) == [1.0]


def test_the_stop_set_is_drawn_once_from_a_seeded_generator() -> None:
    pool = list(range(100, 400))
    first = choose_stop_set(pool, 50, np.random.default_rng(3))
    assert first == choose_stop_set(reversed(pool), 50, np.random.default_rng(3))
    assert len(set(first)) == 50 and set(first) <= set(pool)
    assert choose_stop_set(pool[:20], 50, np.random.default_rng(3)) == pool[:20]


POSITIVE = ["great", "wonderful", "excellent", "lovely", "superb", "brilliant"]
NEGATIVE = ["awful", "terrible", "horrible", "dreadful", "poor", "boring"]
PROJECT = 11


def review(k: int) -> tuple[str, str]:
    words, label = (POSITIVE, "Positive") if k % 2 == 0 else (NEGATIVE, "Negative")
    return f"the film was {words[k % 6]} and {words[(k // 2) % 6]}", label


def test_the_live_status_says_when_the_model_has_stopped_changing(client_factory) -> None:
    with client_factory() as client:
        assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG, {"stop_set_size": 40})).status_code == 200
        tasks = [ls_task(100 + k, {"text": review(k)[0]}, PROJECT) for k in range(120)]
        assert client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, tasks[60:])).status_code == 200
        seen = []
        for burst in range(6):
            for k in range(burst * 10, burst * 10 + 10):
                event = annotation_event("ANNOTATION_CREATED", annotation_id=900 + k, task=tasks[k], project_id=PROJECT,
                                         config=TEXT_CONFIG, from_name="sentiment", to_name="text",
                                         choice=review(k)[1])
                assert client.post("/webhook", json=event).status_code == 200
            assert client.app.state.service.worker.wait_idle(120), "worker did not go idle"
            seen.append(client.get(f"/projects/{PROJECT}").json()["stopping"])
        ready = [v for v in client.get(f"/projects/{PROJECT}").json()["versions"] if v["status"] == "ready"]
        page = client.get(f"/projects/{PROJECT}/page").text
    assert len(ready) >= 4
    assert seen[0]["stop"] is False and "still changing" in seen[0]["message"]  # one model: nothing to compare
    last = seen[-1]
    assert last["stop"] is True, last
    assert last["message"].startswith(STOP_MESSAGE)
    assert last["stop_set_size"] == 40 and len(last["kappas"]) == 3 and min(last["kappas"]) >= 0.99
    assert STOP_MESSAGE in page  # the project page says it too
