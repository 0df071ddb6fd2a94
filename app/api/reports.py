"""reports API (being written)."""
from app.api import bp  # noqa: F401
