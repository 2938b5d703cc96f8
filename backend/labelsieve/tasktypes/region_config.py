"""What a region task type (spans, boxes) reads from its label config: one control and the object it labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelsieve.labelconfig import NO_REGION


@dataclass(frozen=True)
class RegionConfig:
    """The control (``from_name``) drawing regions on the object ``to_name`` whose task data key is ``data_key``,
    its labels in config order, and the object's input kind (``text``, ``image``). A type subclasses it with its
    result type and how an annotation's regions name their labels."""

    from_name: str
    to_name: str
    data_key: str
    labels: tuple[str, ...]
    kind: str

    @property
    def result_type(self) -> str:
        """The ``type`` of the control's results in Label Studio (``labels``, ``rectanglelabels``)."""
        raise NotImplementedError

    def region_labels(self, result: list[dict[str, Any]]) -> set[str]:
        """The labels the annotation's kept regions carry."""
        raise NotImplementedError

    def annotation_labels(self, result: list[dict[str, Any]] | None) -> list[str]:
        """The labels an annotation's regions carry (config order), or ``NO_REGION`` for an annotation with no
        region: "nothing to mark here" is an answer, and trains the model (for a detector: background)."""
        found = self.region_labels(result or [])
        return [label for label in self.labels if label in found] or [NO_REGION]
