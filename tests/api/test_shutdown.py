"""The service's stop joins every background thread it started, so Python never exits under one of them.

A thread still inside torch (or another C++ library) when the interpreter finalizes aborts the whole process:
``terminate called without an active exception``, exit status 134, after every test had passed. The data-quality
pass after a retrain fits a model per fold (cross-fitted scorecard, 5-fold estimate): it used to get 10 s to finish
and then was left running.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import get_registries
from tests.factories import IMAGE_CONFIG, annotation_event, ls_task, setup_payload
from tests.quality.helpers import noisy_digits

PROJECT = 31
FIT_SECONDS = 2.0  # one fit of the slow learner; a pass fits it 10 times (5 scorecard folds, 5 estimate folds)


class SlowVectorLearner(VectorLearner):
    """The vector learner, with a fit as slow as a torch model's on a busy machine."""

    fits = 0
    fold_started = threading.Event()  # the second fit: the retrain's model is served, the pass fits its folds

    def fit(self, X: Any, y: Any, **kwargs: Any) -> SlowVectorLearner:
        type(self).fits += 1
        if type(self).fits >= 2:
            type(self).fold_started.set()
        time.sleep(FIT_SECONDS)
        return super().fit(X, y, **kwargs)


def test_no_background_thread_outlives_the_app_stopped_during_a_quality_pass(client_factory) -> None:
    X, y, _, _ = noisy_digits(0.0)
    items = [i for i in range(len(y)) if y[i] < 3][:30]  # three classes, ten labels each
    registries = get_registries()
    registries.learners.register("slow_vector", SlowVectorLearner)
    SlowVectorLearner.fits = 0
    SlowVectorLearner.fold_started.clear()
    try:
        with client_factory() as client:
            extra = {"learner": "slow_vector", "label_issues": True, "cv_estimate": True}
            assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
            events = [annotation_event(
                "ANNOTATION_CREATED", annotation_id=70_000 + i, project_id=PROJECT, config=IMAGE_CONFIG,
                task=ls_task(1000 + i, {"image": X[i].round(3).tolist()}, PROJECT), from_name="label",
                to_name="image", choice=str(y[i])) for i in items]
            batch = {**events[0], "action": "ANNOTATIONS_CREATED", "annotation": [e["annotation"] for e in events],
                     "task": [e["task"] for e in events]}
            assert client.post("/webhook", json=batch).status_code == 200
            assert SlowVectorLearner.fold_started.wait(180), "the data-quality pass never fitted a fold"
    finally:
        registries.learners.unregister("slow_vector")
    alive = [t.name for t in threading.enumerate() if t.name.startswith("labelsieve-") and t.is_alive()]
    assert not alive, f"still running after the app stopped: {alive}"
    # the pass ended before its next fit: the stop waited for the fold in progress, not for the 9 fits left
    assert SlowVectorLearner.fits <= 3, f"{SlowVectorLearner.fits} fits: the pass went on after the stop"
