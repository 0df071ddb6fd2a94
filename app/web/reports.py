"""reports pages (being written)."""
from app.web import bp  # noqa: F401
