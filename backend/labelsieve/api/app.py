"""``create_app(settings)``: the FastAPI app; nothing is built at import time."""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelsieve import __version__
from labelsieve.api.routes import audit, issues, labelstudio, metrics, pages, projects, reports, strategies
from labelsieve.pages.render import PageRenderer
from labelsieve.service.container import Service, build_service
from labelsieve.service.project_catalog import UnknownProjectError
from labelsieve.settings import Settings, get_settings
from labelsieve.storage import crud

log = logging.getLogger(__name__)
OPEN_PATHS = {"/webhook"}  # Label Studio sends webhooks without auth: checked by secret or re-read from LS
WEBHOOK_SECRET_HEADER = "x-labelsieve-webhook-secret"
WARM_PROJECT_ID = 2**63 - 1  # a project id never stored: the start-up upsert that compiles /setup's SQL is rolled back


def _prepare_setup_path(service: Service) -> None:
    """Before serving: read the plugin entry points (metadata parsing takes half a second on a busy machine) and
    compile the statements ``/setup`` runs (a rolled-back upsert), so the first ``/setup`` pays for neither."""
    for registry in (service.registries.learners, service.registries.strategies):
        registry.names()
    with Session(service.engine) as session:
        crud.upsert_project(session=session, project_id=WARM_PROJECT_ID, label_config="", settings={})
        session.flush()
        session.rollback()


def _route_name(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def _basic_ok(header: str, user: str, password: str) -> bool:
    if not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    got_user, _, got_pass = decoded.partition(":")
    return _same(got_user, user) & _same(got_pass, password)


def _same(got: str, expected: str) -> bool:
    """Constant-time comparison that also works for non-ASCII input (str compare_digest raises on it)."""
    return secrets.compare_digest(got.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def _authorized(request: Request, settings: Settings) -> bool:
    header = request.headers.get("authorization", "")
    checks = []
    if settings.basic_auth_user and settings.basic_auth_pass:
        checks.append(_basic_ok(header, settings.basic_auth_user, settings.basic_auth_pass))
    if settings.bearer_token:
        checks.append(header.startswith("Bearer ") and _same(header[7:], settings.bearer_token))
    return not checks or any(checks)


async def _read_bounded(receive: Receive, limit: int) -> bytes | None:
    """Read a body sent without Content-Length, stopping past ``limit``; None when it is too big."""
    chunks, total = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's own messages (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class GuardAndMeasure:
    """Body size limit, authentication, the webhook secret, and the request metrics, around every HTTP request.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) adds a task group and a
    memory stream to every request, a measurable share of a webhook's acknowledgement."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        settings = self.settings
        request = Request(scope)
        length = request.headers.get("content-length")
        too_big = length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes)
        if length is None and request.method in ("POST", "PUT", "PATCH"):  # chunked upload
            body = await _read_bounded(receive, settings.max_body_bytes)
            too_big = body is None
            if body is not None:
                receive = _replay(body, receive)
        refusal: Response | None = None
        if too_big:
            refusal = JSONResponse(
                status_code=413, content={"detail": f"request body over {settings.max_body_bytes} bytes"})
        elif request.url.path not in OPEN_PATHS and not _authorized(request, settings):
            refusal = JSONResponse(status_code=401, content={"detail": "authentication required"},
                                   headers={"WWW-Authenticate": 'Basic realm="labelsieve"'})
        elif request.url.path in OPEN_PATHS and (problem := _webhook_secret_problem(request, settings)):
            refusal = JSONResponse(status_code=problem[0], content={"detail": problem[1]})
        status = [500]

        async def measured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if refusal is not None:
                await refusal(scope, receive, measured_send)
            else:
                await self.app(scope, receive, measured_send)
        finally:
            metrics_ = scope["app"].state.service.metrics
            route = _route_name(request)
            metrics_.requests.labels(request.method, route, str(status[0])).inc()
            metrics_.latency.labels(request.method, route).observe(time.perf_counter() - started)


def _webhook_secret_problem(request: Request, settings: Settings) -> tuple[int, str] | None:
    """(status, message) when a webhook secret is configured and the request does not carry it."""
    if not settings.webhook_secret:
        return None
    got = request.headers.get(WEBHOOK_SECRET_HEADER)
    if got is None:
        return 401, f"webhook secret required: send the {WEBHOOK_SECRET_HEADER} header"
    if not _same(got, settings.webhook_secret):
        return 403, "webhook secret does not match"
    return None


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service.start()
        _prepare_setup_path(app.state.service)
        app.state.service.start_warm_up()
        try:
            yield
        finally:
            app.state.service.stop()

    app = FastAPI(title="labelsieve", version=__version__, lifespan=lifespan,
                  description="Active-learning ML backend for Label Studio")
    app.state.service = service or build_service(settings)
    app.state.settings = settings
    app.state.pages = PageRenderer()

    app.add_middleware(GuardAndMeasure, settings=settings)
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse(status_code=422, content={"detail": "; ".join(problems) or "invalid request",
                                                      "errors": [str(p) for p in problems]})

    @app.exception_handler(UnknownProjectError)
    async def unknown_project(request: Request, exc: UnknownProjectError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": "a number in the request is out of range "
                                                                "(ids are positive 64-bit integers)"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        app.state.service.metrics.failures.labels("http_500").inc()
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    for router in (labelstudio.router, strategies.router, pages.router, projects.router, issues.router, audit.router,
                   reports.router, metrics.router):
        app.include_router(router)
    return app
