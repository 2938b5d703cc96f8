"""How labelsieve talks to one Label Studio: the SDK client over a shared connection pool, and the error contract.

Every call goes through the SDK's ``LabelStudio`` client (legacy tokens and personal access tokens, the
token refresh included), over ONE shared ``httpx.Client`` per Label Studio URL (:func:`connection_pool`), so
a round's requests reuse keep-alive connections. Endpoints the SDK does not cover go through the same SDK HTTP
client (:meth:`LabelStudioTransport.raw`).

Errors keep one contract for the layers above: Label Studio unreachable, timing out or answering 5xx →
:class:`labelsieve.labelstudio.errors.RetryLater` (queued work waits for it); any other refusal (4xx, a bad
key) → :class:`LabelStudioError` with a message a user can act on. The SDK's own retries are off
(``max_retries=0``): a bulk import retried after a timeout would insert twice; the worker retries instead.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpx

from labelsieve.labelstudio.errors import KEY_REFUSED, SERVER_ERROR, RetryLater

#: seconds allowed for an export, a bulk prediction import or a version delete (over a minute each for 10k tasks
#: on a busy machine: Label Studio serializes, validates and deletes row by row)
BULK_TIMEOUT = 900.0
T = TypeVar("T")

_pools: dict[str, httpx.Client] = {}
_pools_lock = threading.Lock()


def _sdk() -> tuple[Any, type[Exception]]:
    """``(LabelStudio, ApiError)``. Imported on first use, documented exception to top-level imports: the SDK's
    package imports pandas and every generated type (2-7 s), which every CLI command would otherwise pay."""
    from label_studio_sdk import LabelStudio
    from label_studio_sdk.core.api_error import ApiError

    return LabelStudio, ApiError


class LabelStudioError(RuntimeError):
    """Label Studio answered, but not with what we asked for (wrong key, unknown project...)."""


def connection_pool(base_url: str) -> httpx.Client:
    """The one keep-alive ``httpx.Client`` of this process for ``base_url`` (shared by every client of it)."""
    key = base_url.rstrip("/")
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.is_closed:
            pool = httpx.Client(timeout=60.0, follow_redirects=True,
                                limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))
            _pools[key] = pool
        return pool


class KeyRefusedError(LabelStudioError, RetryLater):
    """Label Studio refused the API key (HTTP 401): queued work waits until the key is fixed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        RetryLater.__init__(self, message, url=url, reason=KEY_REFUSED)


class LabelStudioTransport:
    """One Label Studio URL and key: the SDK client over the shared pool, and the two ways a request goes out
    (:meth:`call` for SDK methods, :meth:`raw` for endpoints the SDK lacks), both mapping failures onto the
    error contract of the module docstring."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 60.0,
                 http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.http = http if http is not None else connection_pool(self.base_url)
        #: (method, path) of the last requests sent (tests and benchmarks read it)
        self.request_log: deque[tuple[str, str]] = deque(maxlen=5000)
        self._sdk: Any = None

    # ------------------------------------------------------------------ plumbing
    @property
    def sdk(self) -> Any:
        """The SDK's ``LabelStudio`` client over this client's connection pool."""
        if self._sdk is None:
            label_studio, api_error = _sdk()
            try:
                self._sdk = label_studio(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                                        max_retries=0, httpx_client=self.http)
            except api_error as exc:  # an expired personal access token is refused before any request
                raise KeyRefusedError(f"Label Studio at {self.base_url} refused the API key: {_detail(exc)}",
                                      url=self.base_url) from exc
        return self._sdk

    @property
    def bulk_timeout(self) -> float:
        """Seconds for an export, a bulk prediction import or a version delete (never below ``timeout``)."""
        return max(self.timeout, BULK_TIMEOUT)

    def call(self, what: str, fn: Callable[..., T], *args: Any, timeout: float | None = None,
             query: dict[str, Any] | None = None, **kwargs: Any) -> T:
        """Run one SDK call, mapping its failures onto RetryLater / LabelStudioError (``query``: extra query
        parameters the SDK method has no argument for)."""
        self.request_log.append(("SDK", what))
        api_error = _sdk()[1]
        options: dict[str, Any] = {"timeout_in_seconds": int(timeout or self.timeout)}
        if query:
            options["additional_query_parameters"] = query
        try:
            return fn(*args, request_options=options, **kwargs)
        except api_error as exc:
            raise self._error(what, getattr(exc, "status_code", None), _detail(exc)) from exc
        except httpx.HTTPError as exc:
            raise RetryLater(f"Label Studio at {self.base_url} is unreachable ({what}): "
                             f"{type(exc).__name__}: {exc}", url=self.base_url) from exc

    def raw(self, method: str, path: str, *, what: str, timeout: float | None = None, ok: Iterable[int] = (),
            **kwargs: Any) -> httpx.Response:
        """A request the SDK has no method for, through the SDK's HTTP client (its auth, base URL and pool)."""
        self.request_log.append((method, path))
        api_error = _sdk()[1]
        try:
            response = self.sdk._client_wrapper.httpx_client.request(  # noqa: SLF001 - the SDK's own HTTP client
                path.lstrip("/"), method=method, request_options={"timeout_in_seconds": int(timeout or self.timeout),
                                                                  "max_retries": 0}, **kwargs)
        except api_error as exc:  # a personal access token refresh refused
            raise self._error(what, getattr(exc, "status_code", None), _detail(exc)) from exc
        except httpx.HTTPError as exc:
            raise RetryLater(f"Label Studio at {self.base_url} is unreachable ({what}): "
                             f"{type(exc).__name__}: {exc}", url=self.base_url) from exc
        if response.status_code >= 300 and response.status_code not in set(ok):
            raise self._error(what, response.status_code, response.text[:300])
        return response

    def _error(self, what: str, status: int | None, detail: str) -> Exception:
        if status is None or status >= 500:
            return RetryLater(f"Label Studio at {self.base_url} answered HTTP {status} for {what}: {detail[:200]}",
                              url=self.base_url, reason=SERVER_ERROR)
        if status == 401:  # queued work waits until the key is fixed
            return KeyRefusedError(f"Label Studio at {self.base_url} rejected the API key for {what} (HTTP 401): "
                                   "check LABEL_STUDIO_API_KEY", url=self.base_url)
        return LabelStudioError(f"{what} failed: HTTP {status} {detail[:300]}")


def _detail(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    return str(body)[:300] if body is not None else str(exc)
