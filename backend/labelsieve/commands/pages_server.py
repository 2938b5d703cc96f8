"""Serve the project pages beside a command that has no HTTP server of its own (``labelsieve loop``)."""

from __future__ import annotations

import threading
import time

import uvicorn

from labelsieve.api.app import create_app
from labelsieve.service.container import Service


class PagesServer:
    """The full app (same routes, same auth) on ``host:port`` in a daemon thread, sharing ``service``."""

    def __init__(self, *, service: Service, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> bool:
        """True once listening; False when it could not start (the port is taken, say)."""
        app = create_app(self.service.settings, service=self.service)
        self._server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name="labelsieve-pages", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(self._server.started)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
