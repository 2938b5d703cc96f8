"""The two image domains style transfer translates between, read from a task data field (no torch here: ``/setup``
checks balancing parameters with it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelsieve.balancing.base import BalancingError


def check_domains(domains: Sequence[Any | None], field: str) -> list[str]:
    """The two domain values of ``field`` (sorted), or :class:`BalancingError` saying why style transfer cannot run."""
    values = sorted({str(v) for v in domains if v is not None and str(v) != ""})
    if not values:
        raise BalancingError(f"style_transfer needs a domain field in the task data, but no task has {field!r}; "
                             "add it to the tasks' data or choose another augmenter")
    if len(values) != 2:
        raise BalancingError(f"style_transfer translates between two domains, but task data field {field!r} holds "
                             f"{len(values)} value(s) {values[:5]}; it needs exactly two")
    return values
