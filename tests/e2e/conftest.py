"""One real Label Studio per test session (tests/harness/labelstudio.py) and a real labelsieve server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.labelstudio import LabelStudioServer, start_label_studio


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    server = start_label_studio(tmp_path_factory.mktemp("ls-files"))
    yield server
    server.stop()


@pytest.fixture
def labelsieve_server(tmp_path: Path, label_studio: LabelStudioServer):
    from tests.reliability.server import ServerProcess

    server = ServerProcess(tmp_path / "labelsieve", f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}",
                           LABEL_STUDIO_URL=label_studio.url, LABEL_STUDIO_API_KEY=label_studio.token,
                           LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(label_studio.files_root),
                           LABELSIEVE_DEBOUNCE_SECONDS="0.2").start()
    yield server
    server.stop()
