"""Where users meet the page: a line in Label Studio's ML backend description (never over the user's text),
and the page served beside the headless loop."""

from __future__ import annotations

from typing import Any

import httpx

from labelsieve.commands.pages_server import PagesServer
from labelsieve.labelstudio.backend_note import MARKER, note_page_url, same_backend, with_page_line
from labelsieve.service.container import build_service
from labelsieve.settings import Settings
from tests.harness.net import free_port

PAGE = "http://127.0.0.1:9090/projects/4/page"


def test_the_page_line_keeps_the_users_text_and_is_never_duplicated() -> None:
    assert with_page_line("", PAGE) == f"{MARKER} {PAGE}"
    mine = "Digits model for the QA team.\nAsk Ana before changing it."
    noted = with_page_line(mine, PAGE)
    assert noted == f"{mine}\n{MARKER} {PAGE}"
    assert with_page_line(noted, PAGE) is None  # already there: no write
    moved = with_page_line(noted, PAGE.replace("9090", "9191"))
    assert moved.startswith(mine) and moved.count(MARKER) == 1 and "9191" in moved


def test_only_this_backends_entries_are_matched() -> None:
    assert same_backend("http://localhost:9090/", "http://127.0.0.1:9090")
    assert not same_backend("http://127.0.0.1:9091", "http://127.0.0.1:9090")
    assert not same_backend("http://other-host:9090", "http://127.0.0.1:9090")


class FakeLabelStudio:
    """Stands in for LabelStudioClient's two ML-backend calls; records what would be written."""

    def __init__(self, backends: list[dict[str, Any]]) -> None:
        self.backends = backends
        self.patches: list[tuple[int, dict[str, Any]]] = []

    def ml_backends(self, project_id: int) -> list[dict[str, Any]]:
        return self.backends

    def update_ml_backend(self, backend_id: int, **fields: Any) -> dict[str, Any]:
        self.patches.append((backend_id, fields))
        return {}


def test_note_touches_only_our_backend() -> None:
    fake = FakeLabelStudio([{"id": 1, "url": "http://localhost:9090", "description": "mine"},
                            {"id": 2, "url": "http://sam-backend:9090", "description": ""}])
    assert note_page_url(fake, 4, PAGE, "http://127.0.0.1:9090") == 1  # type: ignore[arg-type]
    assert fake.patches == [(1, {"description": f"mine\n{MARKER} {PAGE}"})]


def test_pages_server_serves_the_page_beside_the_loop(tmp_path) -> None:
    port = free_port()
    service = build_service(Settings(data_dir=tmp_path, torch_threads=1, start_workers=False, port=port,
                                     label_studio_url=None, label_studio_api_key=None))
    pages = PagesServer(service=service, host="127.0.0.1", port=port)
    try:
        assert pages.start()
        page = httpx.get(f"http://127.0.0.1:{port}/projects/page", timeout=30)
        assert page.status_code == 200 and "No project is set up yet" in page.text
    finally:
        pages.stop()
        service.stop()
