"""What a label-issue review puts in Label Studio, as data (the pushes are :mod:`labelsieve.service.review`).

One review prediction per candidate (a scorecard row whose recommendation is not ``keep``), under the model version
``labelsieve-review-v<N>-…``, with **no score** (see the service module for why). Its ``result`` is what the
out-of-fold model suggests the annotation should be, a valid Label Studio result for the project's config:

- single label: one ``choices`` region holding the suggested label;
- region task types (multi-label, spans, boxes): the regions the row carries in ``review_result``, built by the
  task type (``prediction_result``: a ``choices`` set, ``labels`` spans with exact character offsets,
  ``rectanglelabels`` boxes in percent of the image), their per-region ``score`` removed.

The Data Manager tab lists the tasks carrying that version's predictions.
"""

from __future__ import annotations

from typing import Any

from labelsieve.labelconfig import LabelConfig
from labelsieve.quality.scorecard import ScoreRow

REVIEW_PREFIX = "labelsieve-review-"
VIEW_TITLE = "labelsieve: label issues"


def review_version(version: str) -> str:
    """``labelsieve-v7-2026…`` → ``labelsieve-review-v7-2026…``."""
    return REVIEW_PREFIX + version.removeprefix("labelsieve-")


def review_number(review: str) -> int:
    """The version number of a review model version (-1 when it has none)."""
    try:
        return int(review[len(REVIEW_PREFIX):].lstrip("v").split("-")[0])
    except ValueError:
        return -1


def candidates(rows: list[ScoreRow]) -> list[ScoreRow]:
    return [r for r in rows if r.recommendation != "keep"]


def _unscored(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in region.items() if k != "score"} for region in regions]


def review_result(row: ScoreRow, config: LabelConfig) -> list[dict[str, Any]]:
    """The Label Studio ``result`` of one candidate's review prediction."""
    if row.review_result is not None:
        return _unscored(row.review_result)
    return [{"from_name": config.from_name, "to_name": config.to_name, "type": "choices",
             "value": {"choices": [row.suggested_label]}}]


def review_payload(rows: list[ScoreRow], config: LabelConfig, model_version: str) -> list[dict[str, Any]]:
    return [{"task": r.task_id, "model_version": model_version, "result": review_result(r, config)}
            for r in candidates(rows)]


def view_data(model_version: str) -> dict[str, Any]:
    return {
        "title": VIEW_TITLE,
        "filters": {"conjunction": "and", "items": [{
            "filter": "filter:tasks:predictions_model_versions", "operator": "contains", "type": "List",
            "value": [model_version],
        }]},
        "ordering": ["tasks:id"],
    }
