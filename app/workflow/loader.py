"""Loads the shipped workflow definitions at start (placeholder until the loader lands)."""


def init_app(app):
    """Validate and register the shipped definitions on ``app``."""
    app.extensions["workflows"] = {}
