from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client_factory(settings_factory) -> Callable[..., object]:
    """Build an app on the test database; use as a context manager (startup/shutdown run)."""
    from labelsieve.api.app import create_app

    @contextmanager
    def make(**overrides: object) -> Iterator[TestClient]:
        settings = settings_factory(**overrides)
        with TestClient(create_app(settings)) as client:
            yield client

    return make


@pytest.fixture
def client(client_factory) -> Iterator[TestClient]:
    with client_factory() as c:
        yield c
