"""What the loop needs from whoever pushes rankings to annotators: a declared interface, not ``getattr`` probes.

:class:`~labelsieve.labelstudio.publisher.LabelStudioPublisher` implements it; the simulation and the headless
loop run with no publisher at all (``None``).
"""

from __future__ import annotations

from typing import Any, Protocol


class RankingPublisher(Protocol):
    def __call__(self, project_id: int, version: str) -> None:
        """Publish ``version``'s ranking (the head of the queue) after the version and its ranking are stored."""

    def refill(self, project_id: int, version: str | None) -> Any:
        """Between retrains: extend the pushed head of the serving version's queue."""

    def round_starting(self, project_id: int) -> None:
        """A round of ``project_id`` starts: background work that must not overlap the next push may run now."""

    def queue(self, project_id: int, version: str | None) -> dict[str, Any] | None:
        """The head of the queue as shown in the project status (None when nothing was pushed)."""

    def stale_versions_status(self, project_id: int) -> dict[str, Any] | None:
        """The state of the background removal of stale versions (None when there is none)."""

    def last_pushed(self, version: str) -> int:
        """How many predictions the last publish pushed, when it published ``version`` (else 0)."""

    def stop(self) -> None:
        """Finish held background work (shutdown)."""
