"""What every simulation data set is: items of one kind, string labels, optional lead times."""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        self.labels = np.asarray([str(label) for label in self.labels], dtype=object)
        if len(self.items) != len(self.labels):
            raise DatasetError(f"{self.name}: {len(self.items)} items but {len(self.labels)} labels")

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))

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
