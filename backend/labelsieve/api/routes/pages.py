"""``GET /projects/page`` (every project) and ``GET /projects/{id}/page``: the pages people look at.

Same door as the JSON routes: the app's auth middleware guards these paths, and each page reads only its
own project's rows. Rendering runs in the thread pool (it may score a pool sample on a new model version).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from labelsieve.api.deps import ProjectIdPath, ServiceDep
from labelsieve.api.routes.projects import project_status
from labelsieve.pages.render import INDEX_PATH, PageRenderer, page_path

router = APIRouter(tags=["pages"])


def renderer(request: Request) -> PageRenderer:
    return request.app.state.pages


@router.get(INDEX_PATH, response_class=HTMLResponse)
async def index_page(request: Request, service: ServiceDep) -> HTMLResponse:
    """Every project this backend serves, each linked to its page."""
    return HTMLResponse(await run_in_threadpool(renderer(request).index_page, service))


@router.get(page_path("{project_id}"), response_class=HTMLResponse)
async def project_page(project_id: ProjectIdPath, request: Request, service: ServiceDep) -> HTMLResponse:
    """Learning curve, class balance, queue, diagnosis and model versions of one project (HTML)."""
    found = await run_in_threadpool(project_status, project_id, service, request)  # 404 when not set up
    status = found.model_dump(mode="json")
    page = await run_in_threadpool(renderer(request).project_page, service, project_id, status)
    return HTMLResponse(page or "", status_code=200 if page is not None else 404)
