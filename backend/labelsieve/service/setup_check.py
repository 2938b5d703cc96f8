"""At ``/setup``: can this backend reach Label Studio with the URL and key it would use?

With webhook verification on, every annotation is re-read from Label Studio before it is stored;
if Label Studio cannot be reached at the address it sent (``hostname``, e.g. ``http://localhost:8080``
from inside Docker) every webhook would be acknowledged and then wait forever. So ``/setup`` asks
Label Studio for the project (``GET /api/projects/{id}/?include=id``: none of its counters, bounded well inside
Label Studio's 3 s) and refuses the connection with a message naming the URL tried and the setting to change.
Operators who want the connection accepted anyway set ``LABELSIEVE_SETUP_CHECKS_LABEL_STUDIO=false``.

Label Studio 1.23.2 shows a failed ``/setup`` as ``str(requests.HTTPError)`` — status, reason phrase and
*final URL*, never the body (``ml/api_connector.py`` ``MLApi._request``, ``ml/serializers.py``
``_validate_setup``). The refusal therefore redirects (307, which requests follows with the same POST)
to ``/setup/refused/<message>`` answering 400, so the message is in the URL Label Studio prints.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import httpx

from labelsieve.labelstudio.auth import LabelStudioAuthError, TokenAuth
from labelsieve.labelstudio.errors import KEY_REFUSED, SERVER_ERROR, UNREACHABLE, RetryLater
from labelsieve.service.waiting import fix_for
from labelsieve.settings import Settings

#: seconds for the whole check (connect + answer): Label Studio waits 3 s for /setup
CHECK_TIMEOUT = 1.5
#: a successful check is trusted this long (Label Studio calls /setup before every prediction request)
OK_SECONDS = 60.0
REFUSED_PREFIX = "/setup/refused/"
SKIP_SETTING = "LABELSIEVE_SETUP_CHECKS_LABEL_STUDIO=false"


def refused_location(message: str) -> str:
    """Where the refusal redirects: the message, words joined by '+', readable in Label Studio's error text."""
    return REFUSED_PREFIX + quote(message.replace(" ", "+"), safe="+:/=,()@'[];")


def refused_message(path_tail: str) -> str:
    return path_tail.replace("+", " ")


class LabelStudioCheck:
    """Remembers recent successes per (url, key, project) so repeated ``/setup`` calls cost nothing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ok: dict[tuple[str, str, int], float] = {}
        self._lock = threading.Lock()

    def target(self, hostname: str | None, access_token: str | None) -> tuple[str | None, str | None]:
        """The URL and key the backend would use: the environment's, else what /setup carried."""
        url = self.settings.label_studio_url or hostname or None
        key = self.settings.label_studio_api_key or access_token or None
        return url, key

    def problem(self, *, project_id: int, hostname: str | None, access_token: str | None) -> str | None:
        """None when Label Studio answers (or the check is off / not needed), else a message for the user."""
        if not (self.settings.verify_webhooks and self.settings.setup_checks_label_studio):
            return None
        url, key = self.target(hostname, access_token)
        if not (url and key):
            return None  # no key: webhooks are stored as sent, nothing to reach
        cache_key = (url, key, project_id)
        with self._lock:
            if time.monotonic() - self._ok.get(cache_key, -OK_SECONDS) < OK_SECONDS:
                return None
        try:
            read_project(url, key, project_id)
        except RetryLater as exc:  # what would make every webhook wait: unreachable, key refused, 5xx
            return self._message(url, project_id, str(exc), fix_for(exc.reason, exc.url or url))
        with self._lock:
            self._ok[cache_key] = time.monotonic()
        return None

    @staticmethod
    def _message(url: str, project_id: int, error: str, fix: str) -> str:
        return (f"labelsieve could not read project {project_id} from Label Studio at {url}, so it could not check "
                f"annotations sent by webhook ({error}). Fix: {fix}. To connect anyway, set {SKIP_SETTING}")


def read_project(url: str, key: str, project_id: int) -> None:
    """``GET /api/projects/{id}/?include=id`` with the key, within ``CHECK_TIMEOUT`` and without the SDK (whose
    import costs seconds on a busy machine: /setup must answer inside Label Studio's 3 s). ``include=id`` asks for
    none of the project's counters, so the read costs the same on a 100k-task project as on an empty one. Raises
    RetryLater for what would make webhooks wait (unreachable, key refused, 5xx); any other answer, or a connected
    server slow to answer, means Label Studio can be read."""
    base = url.rstrip("/")
    try:
        headers = TokenAuth(base, key, timeout=CHECK_TIMEOUT).headers()
    except LabelStudioAuthError as exc:
        reason = UNREACHABLE if "cannot reach" in str(exc) else KEY_REFUSED
        raise RetryLater(str(exc), url=base, reason=reason) from exc
    try:  # include=id: without it Label Studio computes all the project's counters, each over all its tasks
        response = httpx.get(f"{base}/api/projects/{project_id}/", params={"include": "id"}, headers=headers,
                             timeout=CHECK_TIMEOUT)
    except httpx.ReadTimeout:  # connected and authenticated: Label Studio is there, only busy; never refuse for that
        return
    except httpx.HTTPError as exc:
        raise RetryLater(f"Label Studio at {base} is unreachable: {type(exc).__name__}: {exc}", url=base) from exc
    if response.status_code == 401:
        raise RetryLater(f"Label Studio at {base} rejected the API key (HTTP 401): check LABEL_STUDIO_API_KEY",
                         url=base, reason=KEY_REFUSED)
    if response.status_code >= 500:
        raise RetryLater(f"Label Studio at {base} answered HTTP {response.status_code}", url=base,
                         reason=SERVER_ERROR)
