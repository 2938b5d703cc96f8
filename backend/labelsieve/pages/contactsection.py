"""The project page's "First contact" section: the status's ``first_contact`` (service/first_contact.py)."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc


def first_contact_section(contact: dict[str, Any] | None) -> str:
    """Empty once the first contact is done (or there was none); its progress while it syncs; its error."""
    if not contact or contact.get("state") == "done":
        return ""
    total = contact.get("tasks_total")
    synced = f"{contact.get('tasks_synced', 0)} of {total}" if total is not None else str(contact.get("tasks_synced"))
    if contact.get("state") == "failed":
        return (f'<p class="empty">The first sync with Label Studio failed ({esc(contact.get("error") or "")}); '
                "the next /setup from Label Studio starts it again.</p>")
    rounds = contact.get("rounds") or []
    head = (" &middot; a first head is ranked from the tasks synced so far" if rounds else
            " &middot; no annotation yet: ranking starts with the first labels")
    return (f"<p>Syncing the project from Label Studio: <b>{synced}</b> tasks in {contact.get('pages', 0)} page(s), "
            f"{contact.get('annotations', 0)} existing annotation(s){head}.</p>")
