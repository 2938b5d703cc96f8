"""Loopback HTTP servers for the reliability tests: count every connection, answer what a test sets.

``CountingServer`` is a real TCP server on 127.0.0.1; ``connections`` counts accepted sockets, so a test
can prove the backend never contacted it. ``routes`` maps a path to (status, JSON or bytes body;
the Location for a redirect); ``delay`` holds every answer back, ``trickle`` sends it a byte at a time.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        owner = self.server.owner
        owner.requests.append((self.path, self.headers.get("Authorization")))
        if owner.delay:
            time.sleep(owner.delay)
        status, body = owner.routes.get(self.path.split("?", 1)[0], (404, {"detail": "Not found"}))
        raw = body if isinstance(body, bytes) else json.dumps(body).encode() if status < 300 or status >= 400 else b""
        try:
            self.send_response(status)
            if status in (301, 302, 307):
                self.send_header("Location", str(body))
            self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes)
                             else "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if not owner.trickle:
                self.wfile.write(raw)
            for pos in range(len(raw) if owner.trickle else 0):  # one byte at a time: a trickling server
                self.wfile.write(raw[pos:pos + 1])
                self.wfile.flush()
                time.sleep(owner.trickle)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: CountingServer

    def get_request(self):  # type: ignore[no-untyped-def]
        conn = super().get_request()
        self.owner.connections += 1
        return conn


class CountingServer:
    def __init__(self, *, delay: float = 0.0, trickle: float = 0.0) -> None:
        self.delay = delay
        self.trickle = trickle
        self.routes: dict[str, tuple[int, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> CountingServer:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> CountingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
