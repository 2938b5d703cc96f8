"""``prune: {"keep_top": share}``: the retrain uses exactly that share of the scored items, the highest values."""

from __future__ import annotations

from types import SimpleNamespace

from labelsieve.quality.pruning import keep_top, keep_top_count
from labelsieve.quality.scorecard import ScoreRow
from tests.factories import IMAGE_CONFIG, setup_payload
from tests.quality.helpers import noisy_digits
from tests.quality.test_service_quality import PROJECT, _annotate, _settle


def _row(i: int, value: float, label: str = "a") -> ScoreRow:
    return ScoreRow(task_id=i, annotation_id=100 + i, label=label, suggested_label=label, suggested_confidence=1.0,
                    issue_score=0.0, flagged=False, value=value, influence=0.0, uncertainty=0.0, duplicate_of=None,
                    similarity=0.0, recommendation="keep", reason="")


def _example(i: int, label: str = "a") -> tuple[SimpleNamespace, SimpleNamespace]:
    return SimpleNamespace(id=i), SimpleNamespace(id=100 + i, labels=[label])


def test_keep_top_keeps_exactly_the_share_with_the_highest_values() -> None:
    rows = [_row(i, value=float(i % 7) - 3.0) for i in range(40)]
    examples = [_example(i) for i in range(40)]
    kept, left_out, rule = keep_top(examples, rows, 0.85)
    assert len(kept) == keep_top_count(0.85, 40) == 34 and len(left_out) == 6
    kept_values = sorted(r.value for r in rows if r.annotation_id not in set(left_out))
    dropped_values = [r.value for r in rows if r.annotation_id in set(left_out)]
    assert max(dropped_values) <= min(kept_values) == rule["value_threshold"]
    assert rule == {"keep_top": 0.85, "scored": 40, "kept_scored": 34, "left_out": 6, "unscored_kept": 0,
                    "value_threshold": min(kept_values)}
    # a label changed since the scorecard, and an item labelled after it: both trained on, the share is of the rest
    examples = [*examples[:39], _example(39, "b"), _example(40)]
    kept, left_out, rule = keep_top(examples, rows, 0.5)
    assert rule["scored"] == 39 and rule["kept_scored"] == 20 and rule["unscored_kept"] == 2
    assert len(kept) == 22 and {139, 140} <= {int(a.id) for _, a in kept}
    assert keep_top_count(1.0, 7) == 7 and keep_top_count(0.01, 7) == 1 and keep_top_count(0.5, 7) == 4


def test_service_trains_on_the_share_says_so_and_refuses_bad_values(client_factory) -> None:
    X, given, _, _ = noisy_digits(0.0, seed=3)
    with client_factory() as client:
        for bad in ({"keep_top": 0}, {"keep_top": 1.5}, {"keep": 0.8}, "top"):
            response = client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"prune": bad}))
            assert response.status_code == 400 and "prune" in response.text, (bad, response.text)
        extra = {"learner": "vector", "prune": {"keep_top": 0.8}, "cv_estimate": False}
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        _annotate(client, X, given, range(150))
        _settle(client)
        first = client.get(f"/projects/{PROJECT}").json()["versions"][-1]
        assert first["n_train"] == 150 and first["pruning"]["scored"] == 0  # no scorecard yet: all kept
        _annotate(client, X, given, range(150, 151))  # one more label: a retrain on the first scorecard
        _settle(client)
        status = client.get(f"/projects/{PROJECT}").json()
        last = status["versions"][-1]
        assert last["pruning"]["scored"] == 150 and last["pruning"]["kept_scored"] == 120
        assert last["n_train"] == 120 + 1 and last["pruning"]["left_out"] == 30
        assert status["labeled_tasks"] == 151 and status["settings"]["prune"] == {"keep_top": 0.8}  # nothing deleted
        page = client.get(f"/projects/{PROJECT}/page").text
        assert "keep top 80% by value" in page and "30 of 150 scored left out" in page
