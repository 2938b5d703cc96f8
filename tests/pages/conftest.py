from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from tests.api.conftest import client_factory  # noqa: F401 - the TestClient app factory
from tests.harness.net import free_port


@pytest.fixture
def database_url(tmp_path) -> str:  # the pages read the same rows on either database: SQLite keeps these quick
    return f"sqlite:///{tmp_path / 'pages.sqlite3'}"


@pytest.fixture
def live_server(settings_factory) -> Callable[..., Any]:
    """The real app under uvicorn on 127.0.0.1 (a thread of the test), for the browser to open."""
    from labelsieve.api.app import create_app

    @contextmanager
    def serve(**overrides: object) -> Iterator[tuple[str, Any]]:
        port = free_port()
        app = create_app(settings_factory(**overrides))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="page-test-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", app
        finally:
            server.should_exit = True
            thread.join(timeout=60)

    return serve


@pytest.fixture
def http() -> Callable[[str], httpx.Client]:
    return lambda url: httpx.Client(base_url=url, timeout=120.0)
