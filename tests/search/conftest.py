"""Search tests speak to the API as users of new organisations (the API tests' ``api`` fixture)."""
from tests.api.conftest import api  # noqa: F401
