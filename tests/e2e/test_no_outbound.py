"""The test Label Studio is started so that it calls nothing outside the machine."""

from __future__ import annotations

from pathlib import Path

from tests.harness.labelstudio import LabelStudioServer


def test_label_studio_runs_with_empty_sentry_dsns_and_no_version_check(label_studio: LabelStudioServer) -> None:
    assert label_studio.process is not None
    raw = Path(f"/proc/{label_studio.process.pid}/environ").read_bytes().split(b"\0")
    env = dict(item.decode(errors="replace").partition("=")[::2] for item in raw if b"=" in item)
    assert env.get("SENTRY_DSN") == "" and env.get("FRONTEND_SENTRY_DSN") == ""
    assert env.get("LATEST_VERSION_CHECK") == "false" and env.get("COLLECT_ANALYTICS") == "false"
    page = label_studio.api("GET", "/user/login/").text
    assert "sentry.io" not in page  # no DSN rendered into the front end
