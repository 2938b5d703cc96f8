from tests.api.conftest import client_factory  # noqa: F401 - the service app on the test database
