"""The Label Studio publisher implements the interface the loop calls (no ``getattr`` probing anywhere)."""

from __future__ import annotations

import inspect

from labelsieve.labelstudio.publisher import LabelStudioPublisher
from labelsieve.service.publishing import RankingPublisher


def test_label_studio_publisher_has_every_method_of_the_interface_with_its_parameters() -> None:
    declared = {name for name, member in vars(RankingPublisher).items() if callable(member) and
                (not name.startswith("_") or name == "__call__")}
    assert declared == {"__call__", "refill", "round_starting", "queue", "stale_versions_status", "last_pushed",
                        "stop"}
    for name in declared:
        wanted = list(inspect.signature(getattr(RankingPublisher, name)).parameters)
        actual = list(inspect.signature(getattr(LabelStudioPublisher, name)).parameters)
        assert actual == wanted, (name, actual, wanted)
