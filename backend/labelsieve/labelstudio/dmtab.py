"""A Data Manager tab ordered by labelsieve's ranking, kept as the project's first tab.

A labelling stream opened from the Data Manager (*Label All Tasks* on a tab, a reload of
``/projects/{id}/data?labeling=1``, a shared link) sends that tab's filters and ordering to
``POST /api/dm/actions?id=next_task``; with any of them set Label Studio 1.23.2 skips its sampling
and serves the first unlabeled task of the tab's order ("Data manager queue",
``projects/functions/next_task.py`` ``get_next_task``). On a tab ordered by ``tasks:predictions_score``
ascending that is labelsieve's rank 0: the column is the mean score of the task's predictions of the
project's ``model_version`` (``data_manager/managers.py`` ``annotate_predictions_score``), and Label
Studio sorts with ``nulls_last=True`` on SQLite and PostgreSQL alike (``apply_ordering``), so tasks
without a current prediction come after the head.

:func:`ensure_ranking_tab` creates that tab (title :data:`TAB_TITLE`, score column shown) when the
project has none, moves it to the front when it is not first, and leaves every other tab's filters,
ordering and columns as they are (only their position shifts by one).
"""

from __future__ import annotations

from typing import Any

from labelsieve.labelstudio.client import LabelStudioClient

TAB_TITLE = "labelsieve ranking"
ORDERING = ["tasks:predictions_score"]
#: columns hidden in the tab (everything else, the prediction score included, is shown). The prediction results are
#: hidden too: a prediction carries its answer only once the pre-annotation gate opens, and Label Studio shows the
#: others' empty result as ``[]``
HIDDEN = {"explore": ["tasks:inner_id", "tasks:annotations_ids", "tasks:predictions_results",
                      "tasks:predictions_model_versions",
                      "tasks:file_upload", "tasks:storage_filename", "tasks:created_at", "tasks:updated_at",
                      "tasks:updated_by", "tasks:avg_lead_time", "tasks:draft_exists"],
          "labeling": ["tasks:id", "tasks:inner_id", "tasks:completed_at", "tasks:cancelled_annotations",
                       "tasks:total_predictions", "tasks:annotators", "tasks:annotations_results",
                       "tasks:annotations_ids", "tasks:predictions_results", "tasks:predictions_model_versions",
                       "tasks:file_upload", "tasks:storage_filename", "tasks:created_at", "tasks:updated_at",
                       "tasks:updated_by", "tasks:avg_lead_time", "tasks:draft_exists"]}


def tab_data() -> dict[str, Any]:
    return {"title": TAB_TITLE, "type": "list", "target": "tasks", "ordering": list(ORDERING),
            "filters": {"conjunction": "and", "items": []}, "hiddenColumns": HIDDEN,
            "columnsDisplayType": {"tasks:predictions_score": "Number"}}


def is_ours(view: dict[str, Any]) -> bool:
    return (view.get("data") or {}).get("title") == TAB_TITLE


def ensure_ranking_tab(client: LabelStudioClient, project_id: int) -> int:
    """The id of the project's labelsieve tab, created and/or moved first when needed (one GET when all is set)."""
    views = client.list_views(project_id)
    ours = next((v for v in views if is_ours(v)), None)
    if ours is None:
        ours = client.create_view(project_id, tab_data())
        views.append(ours)
    elif (ours.get("data") or {}).get("ordering") != ORDERING:  # re-sorted by hand: sorting is what it is for
        client.update_view(int(ours["id"]), project_id, {**ours["data"], "ordering": list(ORDERING)})
    views.sort(key=lambda v: (v.get("order") or 0, int(v["id"])))  # Label Studio's own tab order
    if int(views[0]["id"]) != int(ours["id"]):
        others = [int(v["id"]) for v in views if int(v["id"]) != int(ours["id"])]
        client.order_views(project_id, [int(ours["id"]), *others])
    return int(ours["id"])
