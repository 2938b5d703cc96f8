"""Label-issue candidates inside Label Studio, without touching the queue.

After each scorecard, :func:`publish_review`:

1. imports one prediction per candidate (recommendation review or prune) under a separate model version
   ``labelsieve-review-v<N>-…`` (``POST /api/projects/{id}/import/predictions``): the result is the suggested
   annotation (:mod:`labelsieve.quality.review_payload` builds it for each task type), with **no score**.
   Label Studio prints a prediction's score as a percentage beside its result, which every reader takes for the
   model's confidence in that result; the issue score is a different quantity (how
   unlikely the *given* label is) and printed as "99.81%" beside a suggested 9 on a clear 5 it misled a user.
   The numbers (issue score, probability that the given label is wrong, the model's probability of the
   suggestion) are in ``GET /projects/{id}/issues`` and on the project page. These predictions sit on
   *labelled* tasks and under a version that is never the project's ``model_version``; Uncertainty sampling
   only considers the project's ``model_version`` (``projects/functions/next_task.py``), so the served order
   does not change;
2. creates or updates a Data Manager tab ``labelsieve: label issues`` (label-studio-sdk ``views``, i.e.
   ``POST/PATCH /api/dm/views/``) filtered to tasks carrying that version's predictions
   (``filter:tasks:predictions_model_versions contains``). Label Studio 1.23.2 cannot order a tab by these scores:
   its ``predictions_score`` column averages only predictions of the project's ``model_version``
   (``data_manager/managers.py`` ``annotate_predictions_score``), which would mean switching the served version.
   The tab is ordered by task id; worst first is ``GET /projects/{id}/issues``;
3. deletes older ``labelsieve-review-`` versions beyond the newest ``keep_versions`` (the current included).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from label_studio_sdk import LabelStudio

from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.client import LabelStudioClient
from labelsieve.quality.review_payload import (
    REVIEW_PREFIX,
    VIEW_TITLE,
    review_number,
    review_payload,
    review_version,
    view_data,
)
from labelsieve.quality.scorecard import ScoreRow

log = logging.getLogger(__name__)


@dataclass
class ReviewResult:
    model_version: str
    pushed: int
    view_id: int | None
    deleted_versions: list[str]


def upsert_view(sdk: LabelStudio, project_id: int, model_version: str) -> int:
    data = view_data(model_version)
    for view in sdk.views.list(project=project_id):
        if (view.data or {}).get("title") == VIEW_TITLE:
            sdk.views.update(str(view.id), project=project_id, data=data)
            return int(view.id)
    return int(sdk.views.create(project=project_id, data=data).id)


def publish_review(
    client: LabelStudioClient, project_id: int, version: str, rows: list[ScoreRow], config: LabelConfig,
    *, api_key: str, keep_versions: int = 2,
) -> ReviewResult:
    review = review_version(version)
    payload = review_payload(rows, config, review)
    pushed = client.import_predictions(project_id, payload) if payload else 0
    view_id = upsert_view(LabelStudio(base_url=client.base_url, api_key=api_key), project_id, review)
    ours = sorted((v for v in client.model_versions(project_id) if v.startswith(REVIEW_PREFIX) and v != review),
                  key=review_number)
    stale = ours[: max(0, len(ours) - (keep_versions - 1))]
    for old in stale:
        client.delete_model_version(project_id, old)
    log.info("project %s: %d review predictions under %s, view %s, deleted %s", project_id, pushed, review,
             view_id, stale or "none")
    return ReviewResult(model_version=review, pushed=pushed, view_id=view_id, deleted_versions=stale)
