"""The liaison tests use the queue tests' team of every role."""
from tests.queues.conftest import in_org, team  # noqa: F401
