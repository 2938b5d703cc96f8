"""Small networking helpers for the test harness (loopback only)."""

from __future__ import annotations

import socket
import time

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, *, ok=(200,)) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code in ok:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False
