"""What every simulation data set is: items of one kind, string labels, optional lead times.

A multi-label data set (``task_type="multi_label"``) keeps each item's label set as one string, its labels in
sorted order joined by ``|`` (the CSV cell format); ``label_sets`` splits them and ``classes`` are the single
labels. Its splits are stratified on ``strata``: each item's rarest label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class DatasetError(ValueError):
    """The data set cannot be used for a simulation; the message says why."""


@dataclass
class Dataset:
    """``items`` are images (uint8 arrays), texts (str) or vectors (rows of a float32 matrix)."""

    name: str
    kind: str  # image | text | vector
    items: Sequence[Any]
    labels: np.ndarray  # str labels, aligned with items
    lead_times: np.ndarray | None = None  # seconds per item (NaN where unknown), or None
    task_type: str = "single_label"  # or "multi_label": labels are "|"-joined sets

    def __post_init__(self) -> None:
        if self.task_type == "multi_label":
            self.labels = np.asarray(["|".join(sorted({p.strip() for p in str(label).split("|") if p.strip()}))
                                      for label in self.labels], dtype=object)
            empty = [i for i, label in enumerate(self.labels) if not label]
            if empty:
                raise DatasetError(f"{self.name}: item(s) {empty[:10]} have an empty label set")
        else:
            self.labels = np.asarray([str(label) for label in self.labels], dtype=object)
        if len(self.items) != len(self.labels):
            raise DatasetError(f"{self.name}: {len(self.items)} items but {len(self.labels)} labels")

    @property
    def multi_label(self) -> bool:
        return self.task_type == "multi_label"

    @property
    def label_sets(self) -> list[tuple[str, ...]]:
        """Each item's labels (one for single-label data)."""
        return [tuple(str(label).split("|")) if self.multi_label else (str(label),) for label in self.labels]

    @property
    def classes(self) -> list[str]:
        if self.multi_label:
            return sorted({label for labels in self.label_sets for label in labels})
        return sorted(set(self.labels.tolist()))

    @property
    def strata(self) -> np.ndarray:
        """What splits are stratified on: the label (single-label) or each item's rarest label (multi-label)."""
        if not self.multi_label:
            return self.labels
        counts = Counter(label for labels in self.label_sets for label in labels)
        return np.asarray([min(labels, key=lambda c: (counts[c], c)) for labels in self.label_sets], dtype=object)

    def __len__(self) -> int:
        return len(self.labels)

    def inputs_for(self, input_kind: str) -> list[Any] | np.ndarray:
        """The items in the form a learner of ``input_kind`` reads (images flatten into vectors)."""
        if input_kind == self.kind:
            return self.items if self.kind != "vector" else np.asarray(self.items, dtype=np.float32)
        if input_kind == "vector" and self.kind == "image":
            return np.stack([np.asarray(item, dtype=np.float32).reshape(-1) for item in self.items])
        raise DatasetError(
            f"the learner reads {input_kind} inputs but data set {self.name!r} holds {self.kind} items; "
            f"use --learner {'text' if self.kind == 'text' else 'vector or --learner image'}"
        )
