"""Schemathesis against the service's own OpenAPI schema: no input gives a 500 (SQLite, no workers).

Bounded: ``MAX_EXAMPLES`` generated requests per operation (schemathesis may add explicit examples).
The app is built at import time because schemathesis reads the schema at collection; its temporary
data folder is removed when the module's tests end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import torch
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from labelsieve.api.app import create_app
from labelsieve.settings import Settings
from tests.factories import TEXT_CONFIG

MAX_EXAMPLES = 100
STATUSES: Counter[int] = Counter()
_DATA = Path(tempfile.mkdtemp(prefix="labelsieve-fuzz-"))
APP = create_app(Settings(data_dir=_DATA, start_workers=False, torch_threads=1, max_predict_tasks=50,
                          label_studio_url=None, label_studio_api_key=None, local_files_document_root=_DATA))
APP.state.service.loop.setup_project(project_id=1, label_config=TEXT_CONFIG)  # one real project to hit
# build_service turns on torch's process-wide flush-denormal; hypothesis refuses to draw floats under it
torch.set_flush_denormal(False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def _denormals_back() -> None:
    """Other tests' services turn flush-denormal on again; hypothesis needs it off to draw floats."""
    torch.set_flush_denormal(False)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    APP.state.service.stop()
    shutil.rmtree(_DATA, ignore_errors=True)
    print(f"\nschemathesis status codes: {dict(sorted(STATUSES.items()))}")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case) -> None:
    response = case.call_and_validate(checks=[not_a_server_error])
    STATUSES[response.status_code] += 1
