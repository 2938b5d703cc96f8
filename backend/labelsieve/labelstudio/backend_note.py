"""Show the project page's URL in Label Studio: one line in the description of labelsieve's ML backend.

Label Studio 1.23 keeps a ``title`` and a ``description`` per ML backend (``ml/models.py``) and shows them
under Settings → Model. The title is the user's (and doubles as a model version name), so it is never
touched; the description gets one line starting with :data:`MARKER`, added below whatever the user
wrote, and replaced (never duplicated) when the URL changes. Only backends whose URL is this backend's
(:func:`same_backend`) are edited, so a project's other ML backends keep their text.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from labelsieve.labelstudio.client import LabelStudioClient

MARKER = "labelsieve live view:"
LOOPBACK = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}


def with_page_line(description: str, page_url: str) -> str | None:
    """``description`` with the page line added or updated; None when it already says exactly that."""
    kept = [line for line in (description or "").splitlines() if not line.startswith(MARKER)]
    while kept and not kept[-1].strip():
        kept.pop()
    updated = "\n".join([*kept, f"{MARKER} {page_url}"])
    return None if updated == (description or "") else updated


def same_backend(url: str, ours: str) -> bool:
    """Same scheme and port, and the same host (every loopback name counts as one)."""
    a, b = urlsplit(url.strip()), urlsplit(ours.strip())
    if a.scheme != b.scheme or (a.port or 80) != (b.port or 80):
        return False
    host_a, host_b = (a.hostname or "").lower(), (b.hostname or "").lower()
    return host_a == host_b or (host_a in LOOPBACK and host_b in LOOPBACK)


def note_page_url(client: LabelStudioClient, project_id: int, page_url: str, backend_url: str) -> int:
    """Write the page line into each of the project's ML backends that is this backend; how many changed."""
    changed = 0
    for backend in client.ml_backends(project_id):
        if not same_backend(str(backend.get("url") or ""), backend_url):
            continue
        description = with_page_line(str(backend.get("description") or ""), page_url)
        if description is not None:
            client.update_ml_backend(int(backend["id"]), description=description)
            changed += 1
    return changed
