"""Turn Label Studio task data into learner inputs (texts, images or vectors)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.media import MediaError, MediaFetcher

log = logging.getLogger(__name__)


@dataclass
class LoadedInputs:
    """Inputs for the tasks that loaded, their positions in the request, and the failures."""

    inputs: list[Any] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # position -> message


class InputLoader:
    def __init__(self, *, config: LabelConfig, input_kind: str, fetcher: MediaFetcher, workers: int = 8) -> None:
        self.config = config
        self.input_kind = input_kind
        self.fetcher = fetcher
        self.workers = workers

    def _one(self, data: dict[str, Any]) -> Any:
        if not isinstance(data, dict) or self.config.data_key not in data:
            raise MediaError(f"task data has no {self.config.data_key!r} field")
        value = data[self.config.data_key]
        if self.input_kind == "image":
            if not isinstance(value, str):
                raise MediaError(f"{self.config.data_key!r} must be an image URL, got {type(value).__name__}")
            return self.fetcher.load_image(value).convert("RGB")
        if self.input_kind == "vector":
            try:
                vector = np.asarray(value, dtype=np.float32).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise MediaError(f"{self.config.data_key!r} is not a numeric vector") from exc
            if vector.size == 0 or not np.all(np.isfinite(vector)):
                raise MediaError(f"{self.config.data_key!r} is empty or not finite")
            return vector
        if value is None:
            raise MediaError(f"{self.config.data_key!r} is empty")
        return value if isinstance(value, str) else str(value)

    def load(self, datas: Sequence[dict[str, Any]]) -> LoadedInputs:
        out = LoadedInputs()
        results: list[tuple[int, Any, str | None]] = []

        def work(item: tuple[int, dict[str, Any]]) -> tuple[int, Any, str | None]:
            position, data = item
            try:
                return position, self._one(data), None
            except MediaError as exc:
                return position, None, str(exc)

        items = list(enumerate(datas))
        if self.input_kind == "image" and len(items) > 1:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                results = list(pool.map(work, items))
        else:
            results = [work(item) for item in items]
        for position, value, error in results:
            if error is None:
                out.inputs.append(value)
                out.positions.append(position)
            else:
                out.errors[position] = error
                log.warning("task input %d could not be loaded: %s", position, error)
        return out
