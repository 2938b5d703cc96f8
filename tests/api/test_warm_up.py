"""The first /setup must not pay for importing the learners: Label Studio gives it 3 s."""

from __future__ import annotations

import threading


def test_learners_and_strategies_are_loaded_in_the_background_at_start(client_factory) -> None:
    with client_factory() as client:
        health = client.get("/health")  # serving does not wait for the warm-up
        assert health.status_code == 200
        warm_up = [t for t in threading.enumerate() if t.name == "labelsieve-warm-up"]
        for thread in warm_up:
            thread.join(120)
        registries = client.app.state.service.registries
        assert {"text", "image", "vector"} <= set(registries.learners._loaded)
        assert {"margin", "random", "coreset", "badge"} <= set(registries.strategies._loaded)
