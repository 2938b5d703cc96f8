"""The project page's "First contact" section says how far the sync is, or why it failed, and goes once it is done."""

from __future__ import annotations

from labelsieve.pages.contactsection import first_contact_section


def test_section_shows_progress_failure_and_nothing_when_done() -> None:
    syncing = {"state": "syncing", "tasks_synced": 1000, "tasks_total": 100000, "pages": 1, "annotations": 12,
               "rounds": ["first-head"]}
    text = first_contact_section(syncing)
    assert "1000 of 100000" in text and "12 existing annotation" in text and "first head" in text
    assert "no annotation yet" in first_contact_section(dict(syncing, annotations=0, rounds=[]))
    failed = first_contact_section({"state": "failed", "error": "RetryLater: Label Studio <down>"})
    assert "failed" in failed and "&lt;down&gt;" in failed, "the error is shown, escaped"
    assert first_contact_section({"state": "done"}) == "" and first_contact_section(None) == ""
