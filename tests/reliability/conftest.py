"""Reliability/security tests reuse the API tests' app factory (startup and shutdown run)."""

from tests.api.conftest import client, client_factory  # noqa: F401 - pytest fixtures
