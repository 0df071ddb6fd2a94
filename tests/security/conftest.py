"""Fixtures of the security tests: the web helpers and live server of tests/web."""
from tests.web.conftest import live_server, web  # noqa: F401  (re-exported fixtures)
