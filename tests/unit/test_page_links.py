"""Where users meet the page beside the headless loop: served on its own port."""

from __future__ import annotations

import httpx

from labelsieve.commands.pages_server import PagesServer
from labelsieve.service.container import build_service
from labelsieve.settings import Settings
from tests.harness.net import free_port


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
