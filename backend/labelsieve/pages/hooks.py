"""Optional page sections fed by other parts of labelsieve, shown only when those parts exist and have data.

Two hooks, both defined here so the page never invents data:

- **waiting** — :func:`waiting_events` reads the project's status (``GET /projects/{id}`` JSON) and returns
  what it says the project is waiting for: a ``waiting`` entry (one object or a list of objects with at least a
  ``reason``; ``since``, ``dependency``, ``attempts``, ``next_try`` are shown when present). No entry: no section.
- **label issues** — :func:`labelsieve.pages.issue_section.scorecard_candidates` (imported, never resolved by
  name) reads the project's newest scorecard and returns ``{"candidates": [{"task_id", "given", "suggested",
  "score", ...}], "scorecard": {name: value}}``; no scorecard, or no candidate: no section.
  :func:`register_label_issue_provider` adds another provider ``provider(service, project_id) -> dict | None``
  at run time (plugins, tests); registered providers are asked first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from labelsieve.pages.issue_section import scorecard_candidates

log = logging.getLogger(__name__)

LabelIssueProvider = Callable[[Any, int], "dict[str, Any] | None"]
_registered: list[LabelIssueProvider] = []


def register_label_issue_provider(provider: LabelIssueProvider) -> None:
    _registered.append(provider)


def unregister_label_issue_provider(provider: LabelIssueProvider) -> None:
    if provider in _registered:
        _registered.remove(provider)


def label_issues(service: Any, project_id: int) -> dict[str, Any] | None:
    """The first provider's answer for this project, or None (no provider, or no data yet)."""
    providers = [*_registered, scorecard_candidates]
    for provider in providers:
        try:
            found = provider(service, project_id)
        except Exception as exc:  # noqa: BLE001 - an optional section must not take the page down
            log.exception("label-issue provider %r failed for project %s", provider, project_id)
            return {"error": f"{type(exc).__name__}: {exc}"}
        if found:
            return found
    return None


def waiting_events(status: dict[str, Any]) -> list[dict[str, Any]]:
    """What the project is waiting for, from its status JSON (empty when it waits for nothing)."""
    raw = status.get("waiting")
    if not raw:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    entries = [e if isinstance(e, dict) else {"reason": str(e)} for e in entries]
    return [e for e in entries if e.get("state") != "ok"]  # GET /projects/{id} always says "waiting": {"state": "ok"}
