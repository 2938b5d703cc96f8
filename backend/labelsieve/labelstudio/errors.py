"""Errors of the Label Studio layer that the layers above act on."""

from __future__ import annotations

#: why work waits on Label Studio: it cannot be reached, it refused the API key, or it answered 5xx
UNREACHABLE, KEY_REFUSED, SERVER_ERROR = "unreachable", "key_refused", "server_error"


class RetryLater(RuntimeError):
    """Raised by a puller/verifier when Label Studio cannot serve us now: the event stays queued.

    ``url`` is the Label Studio address that was tried, ``reason`` one of ``unreachable``, ``key_refused``,
    ``server_error``: what the user sees (``/health``, ``/projects/{id}``, the log) names both."""

    def __init__(self, message: str, *, url: str | None = None, reason: str = UNREACHABLE) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason
