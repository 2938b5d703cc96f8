"""Against a real Label Studio 1.23.2: label-issue candidates arrive as review predictions on labelled tasks and in a
Data Manager tab, while /next keeps serving labelsieve's ranking."""

from __future__ import annotations

from tests.e2e.helpers import (
    annotate,
    connect_backend,
    create_project,
    issues_tab,
    predictions,
    project,
    served_in_our_order,
    text_dataset,
    wait_issues,
    wait_version,
)

N_LABELLED = 120  # the candidates' gate needs 20 labels in the smallest class (here 20 / 40 / 60)
EXTRA = {"learner": "text", "retrain_every": N_LABELLED, "min_annotations": N_LABELLED, "strategy": "margin"}
OTHER = {"sports": "weather", "weather": "food", "food": "sports"}


def test_review_predictions_and_view_list_candidates_without_changing_the_served_order(
        label_studio, labelsieve_server) -> None:
    ls = label_studio
    items = text_dataset(150, seed=4)
    pid, truth = create_project(ls, "e2e label issues", items)
    connect_backend(ls, pid, labelsieve_server.url, EXTRA)
    order = list(truth)
    wrong = set(order[:N_LABELLED:6])  # 20 of 120 annotations carry another class
    for tid in order[:N_LABELLED]:
        annotate(ls, tid, OTHER[truth[tid]] if tid in wrong else truth[tid])
    labelled = set(order[:N_LABELLED])
    version = wait_version(ls, pid, other_than=None)
    issues = wait_issues(labelsieve_server.url, pid, version)

    candidates = {c["task_id"]: c for c in issues["candidates"]}
    # 120 short texts and a TF-IDF model: few candidates pass the gate and the posterior threshold, and which ones
    # depends on the folds, a hash of Label Studio's task ids (they differ with what ran before on this server):
    # 3 of 4 and 4 of 9 were seen. What must hold: the flags are at least twice as often wrong labels as a random
    # pick of labelled tasks (1 in 6). Detection quality is measured on digits (tests/quality,
    # benchmarks/results/label-issues.md)
    found = set(candidates) & wrong
    base_rate = len(wrong) / N_LABELLED
    assert len(found) >= 2 and len(found) / len(candidates) >= 2 * base_rate, (sorted(candidates), sorted(wrong))
    assert set(candidates) <= labelled

    review = issues["review_model_version"]
    assert review.startswith("labelsieve-review-") and review != version
    assert issues["review"]["model_version"] == review and issues["review"]["pushed"] == len(candidates)
    reviewed = predictions(ls, pid, review)
    assert set(reviewed) == set(candidates), "one review prediction per candidate, on labelled tasks only"
    for tid, (score, suggested) in reviewed.items():
        assert suggested == candidates[tid]["suggested_label"]
        assert score is None, "a review score would read as confidence in the suggested label"

    assert issues_tab(ls, pid, issues["review"]["view_id"]) == set(candidates), \
        "the Data Manager tab lists exactly the candidates"

    state = project(ls, pid)
    assert state["model_version"] == version, "review predictions must not switch the served version"
    served_in_our_order(ls, pid, truth, version, labelled)  # /next: lowest labelsieve score first, 3 in a row
