"""Label Studio REST calls the backend makes, through label-studio-sdk 2.x (the transport, its connection pool
and its error contract: :mod:`labelsieve.labelstudio.transport`).

Endpoints the SDK does not cover (``model-versions``, Data Manager views with their hidden columns) go through the
SDK's own HTTP client (:meth:`LabelStudioTransport.raw`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from labelsieve.labelstudio.transport import (
    BULK_TIMEOUT,
    KeyRefusedError,
    LabelStudioError,
    LabelStudioTransport,
    connection_pool,
)

__all__ = ["BULK_TIMEOUT", "EXPORT_IDS_PER_REQUEST", "KeyRefusedError", "LabelStudioClient", "LabelStudioError",
           "client_for", "connection_pool"]

#: task ids per ``export?ids[]=`` request (they travel in the URL)
EXPORT_IDS_PER_REQUEST = 500

_clients: dict[tuple[str, str], LabelStudioClient] = {}
_clients_lock = threading.Lock()


def client_for(base_url: str, api_key: str) -> LabelStudioClient:
    """The process's one client for this Label Studio URL and key (its SDK client and request log)."""
    key = (base_url.rstrip("/"), api_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = LabelStudioClient(base_url, api_key)
        return client


class LabelStudioClient(LabelStudioTransport):
    """The Label Studio endpoints labelsieve calls, one method each."""

    # ------------------------------------------------------------------- reading
    def check(self) -> str:
        """The server's version; a clear error when it is unreachable or refuses the key."""
        body = self.raw("GET", "/api/version/", what="reading the Label Studio version").json()
        return str(body.get("release", "?"))

    def get_project(self, project_id: int) -> dict[str, Any]:
        project = self.call(f"reading project {project_id}", self.sdk.projects.get, project_id)
        return project.model_dump(mode="json")

    def task_number(self, project_id: int) -> int:
        """How many tasks the project has (``GET /api/projects/{id}/?include=task_number``).

        Without ``include`` Label Studio annotates the project with all eight of its counters (annotations,
        predictions, finished, skipped... each an aggregate over the project's tasks); with it, one count."""
        project = self.call(f"reading the task count of project {project_id}", self.sdk.projects.get, project_id,
                            query={"include": "task_number"})
        return int(project.model_dump(mode="json").get("task_number") or 0)

    def export_tasks(self, project_id: int, *, annotated_only: bool = False) -> list[dict[str, Any]]:
        """Every task of the project with its annotations (Label Studio's JSON export; O(project)), or with
        ``annotated_only`` the tasks that have an annotation (``download_all_tasks=false``: O(annotated tasks))."""
        def download(**options: Any) -> bytes:  # the SDK streams: errors surface while reading
            return b"".join(self.sdk.projects.exports.download_sync(
                project_id, export_type="JSON", download_all_tasks=not annotated_only, **options))

        what = f"export of the annotated tasks of project {project_id}" if annotated_only else \
            f"export of project {project_id}"
        body = self.call(what, download, timeout=self.bulk_timeout)
        return list(json.loads(body))

    def export_task_ids(self, project_id: int, task_ids: list[int]) -> list[dict[str, Any]]:
        """These tasks only, with their annotations (``GET /api/projects/{id}/export?ids[]=...``: O(len(ids)))."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(task_ids), EXPORT_IDS_PER_REQUEST):  # the ids travel in the URL
            chunk = task_ids[start:start + EXPORT_IDS_PER_REQUEST]
            params = {"exportType": "JSON", "download_all_tasks": "true", "ids[]": [int(i) for i in chunk]}
            response = self.raw("GET", f"/api/projects/{project_id}/export", params=params, timeout=self.bulk_timeout,
                                what=f"export of {len(chunk)} task(s) of project {project_id}")
            out += list(response.json())
        return out

    def get_annotation(self, annotation_id: int) -> dict[str, Any] | None:
        response = self.raw("GET", f"/api/annotations/{annotation_id}/", what=f"reading annotation {annotation_id}",
                            ok=(404,))
        return None if response.status_code == 404 else dict(response.json())

    def list_tasks(self, project_id: int, *, after_id: int = 0, page_size: int = 5000) -> list[dict[str, Any]]:
        """Tasks with ``id > after_id`` (id order): ``GET /api/tasks?project=..&fields=task_only&query=..``.

        Paged by id, not by page number: each request asks for the first ``page_size`` tasks above the highest
        id seen so far (``page=1``). Label Studio's page numbers are SQL offsets, and every page also counts the
        whole filtered set, so page ``k`` of a numbered listing costs O(k · page) and listing 100k tasks grew
        quadratically; by id each page only counts and skips what is still ahead of it."""
        return [{"id": int(t["id"]), "data": t.get("data") or {}}
                for t in self._pages(project_id, after_id, page_size, what=f"listing tasks of project {project_id}")]

    def task_ids(self, project_id: int, *, page_size: int = 5000) -> list[int]:
        """Every task id of the project (``include=id``: no task data), paged by id."""
        return [int(t["id"]) for t in self._pages(project_id, 0, page_size, include="id",
                                                   what=f"listing task ids of project {project_id}")]

    def _pages(self, project_id: int, after_id: int, page_size: int, *, what: str,
               include: str | None = None) -> list[dict[str, Any]]:
        return [row for page in self.task_pages(project_id, after_id=after_id, page_size=page_size, what=what,
                                                include=include) for row in page]

    def task_pages(self, project_id: int, *, after_id: int = 0, page_size: int = 5000, what: str = "",
                   include: str | None = None, updated_after: str | None = None,
                   first_page_size: int | None = None, fields: str = "task_only") -> Iterator[list[dict[str, Any]]]:
        """The project's tasks with ``id > after_id`` one page at a time, in id order, each page asked for by id
        (see :meth:`list_tasks`); ``updated_after`` (ISO time) keeps only tasks Label Studio changed after it
        (an annotation saved or deleted through its API bumps its task's ``updated_at``); ``first_page_size``: a
        smaller first page (what is synced first is ranked first); ``fields="all"``: each task with its predictions
        (every model version, each region with its score)."""
        after = int(after_id)
        what = what or f"listing tasks of project {project_id}"
        size = first_page_size or page_size
        while True:
            items = [{"filter": "filter:tasks:id", "operator": "greater", "type": "Number", "value": after}]
            if updated_after is not None:
                items.append({"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime",
                              "value": updated_after})
            query = json.dumps({"filters": {"conjunction": "and", "items": items}, "ordering": ["tasks:id"]})
            params: dict[str, Any] = {"project": project_id, "fields": fields, "page": 1, "page_size": size,
                                      "query": query, "resolve_uri": "false"}
            if include:
                params["include"] = include
            body = self.raw("GET", "/api/tasks/", what=what, timeout=self.bulk_timeout, ok=(404,), params=params)
            rows = [] if body.status_code == 404 else list(body.json().get("tasks", []))
            if rows:
                yield rows
            if len(rows) < size:
                return
            after = max(int(t["id"]) for t in rows)
            size = page_size

    # ---------------------------------------------------------------- publishing
    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        """``PATCH /api/projects/{id}/?include=id,title``: the answer carries the id and the project's name (for
        its page) and none of the project's counters (each an aggregate over all its tasks that Label Studio would
        compute for the response otherwise: ``include`` names the fields the answer holds)."""
        project = self.call(f"updating project {project_id}", self.sdk.projects.update, project_id,
                            query={"include": "id,title"}, **fields)
        return project.model_dump(mode="json")

    def import_predictions(self, project_id: int, predictions: list[dict[str, Any]]) -> int:
        """``POST /api/projects/{id}/import/predictions``: one bulk insert per call."""
        response = self.call(f"importing predictions into project {project_id}",
                             self.sdk.projects.import_predictions, project_id, request=predictions,
                             timeout=self.bulk_timeout)
        return int(response.created if response.created is not None else len(predictions))

    def create_prediction(self, prediction: dict[str, Any]) -> int:
        """``POST /api/predictions/``: one prediction (Label Studio recounts that task only); its id."""
        created = self.call(f"creating a prediction for task {prediction['task']}", self.sdk.predictions.create,
                            task=int(prediction["task"]), result=prediction["result"],
                            score=prediction.get("score"), model_version=prediction.get("model_version"))
        return int(created.id or 0)

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """``POST /api/projects/{id}/import``: tasks (``data`` + optional ``predictions``); their new ids, in order."""
        response = self.raw("POST", f"/api/projects/{project_id}/import",
                            what=f"importing tasks into project {project_id}", params={"return_task_ids": "true"},
                            json=tasks, timeout=self.bulk_timeout)
        return [int(i) for i in response.json().get("task_ids", [])]

    def model_versions(self, project_id: int) -> dict[str, int]:
        """``GET /api/projects/{id}/model-versions/``: prediction count per model version."""
        body = self.raw("GET", f"/api/projects/{project_id}/model-versions/",
                        what=f"listing model versions of project {project_id}").json()
        return {str(k): int(v) for k, v in body.items()} if isinstance(body, dict) else {}

    def delete_model_version(self, project_id: int, model_version: str) -> int:
        """Delete every prediction of ``model_version`` in the project (row by row in Label Studio: O(version))."""
        response = self.raw("DELETE", f"/api/projects/{project_id}/model-versions/",
                            what=f"deleting predictions {model_version!r} of project {project_id}",
                            json={"model_version": model_version}, timeout=self.bulk_timeout)
        body = response.json() if response.content else {}
        return int(body.get("deleted_predictions", 0)) if isinstance(body, dict) else 0

    def probe_bulk_import(self, project_id: int) -> str:
        """Which bulk prediction import Label Studio runs: ``"memory_efficient"`` (feature flag
        ``fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short`` on: only the imported
        tasks are recounted) or ``"legacy"`` (every task of the project is recounted after each request).

        Sends one prediction for a task id that cannot exist: both paths refuse it (HTTP 400, nothing
        stored) with different messages (``data_import/api.py`` 566 and 603)."""
        response = self.raw("POST", f"/api/projects/{project_id}/import/predictions", ok=(400,),
                            what=f"probing the prediction import of project {project_id}",
                            json=[{"task": -1, "result": [], "model_version": "labelsieve-probe"}])
        if response.status_code != 400:
            return "legacy"
        return "memory_efficient" if "not found in project" in response.text else "legacy"

    # ------------------------------------------------------------ data manager
    def list_views(self, project_id: int) -> list[dict[str, Any]]:
        body = self.raw("GET", "/api/dm/views/", what=f"listing Data Manager tabs of project {project_id}",
                        params={"project": project_id}).json()
        return list(body) if isinstance(body, list) else []

    def create_view(self, project_id: int, data: dict[str, Any]) -> dict[str, Any]:
        return dict(self.raw("POST", "/api/dm/views/", what=f"creating a Data Manager tab in project {project_id}",
                             json={"project": project_id, "data": data}).json())

    def update_view(self, view_id: int, project_id: int, data: dict[str, Any]) -> dict[str, Any]:
        return dict(self.raw("PATCH", f"/api/dm/views/{view_id}/", what=f"updating Data Manager tab {view_id}",
                             json={"project": project_id, "data": data}).json())

    def order_views(self, project_id: int, view_ids: list[int]) -> None:
        self.raw("POST", "/api/dm/views/order/", what=f"ordering the Data Manager tabs of project {project_id}",
                 json={"project": project_id, "ids": view_ids})
