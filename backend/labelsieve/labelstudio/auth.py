"""Authorization headers for Label Studio: legacy tokens and personal access tokens (PATs).

A legacy token is sent as ``Authorization: Token <key>``. A PAT is a JWT *refresh* token: it is
exchanged at ``POST /api/token/refresh/`` for a 5-minute access token sent as ``Bearer``; the
access token is cached and refreshed a minute before it expires.
"""

from __future__ import annotations

import threading
import time

import httpx


class LabelStudioAuthError(RuntimeError):
    """Label Studio refused the API key (or could not be reached to refresh a PAT)."""


def looks_like_jwt(key: str) -> bool:
    parts = key.split(".")
    return len(parts) == 3 and all(parts) and key.startswith("ey")


class TokenAuth:
    """Produces the ``Authorization`` header for one Label Studio URL and key."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires_at = 0.0

    @property
    def is_pat(self) -> bool:
        return looks_like_jwt(self.api_key)

    def headers(self) -> dict[str, str]:
        if not self.is_pat:
            return {"Authorization": f"Token {self.api_key}"}
        with self._lock:
            if self._access is None or time.monotonic() > self._expires_at:
                self._refresh()
            return {"Authorization": f"Bearer {self._access}"}

    def _refresh(self) -> None:
        url = f"{self.base_url}/api/token/refresh/"
        try:
            response = httpx.post(url, json={"refresh": self.api_key}, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise LabelStudioAuthError(f"cannot reach Label Studio at {self.base_url} to refresh the "
                                       f"personal access token: {exc}") from exc
        if response.status_code != 200:
            raise LabelStudioAuthError(
                f"Label Studio refused the personal access token (HTTP {response.status_code}): "
                f"{response.text[:200]}"
            )
        self._access = response.json()["access"]
        self._expires_at = time.monotonic() + 240.0
