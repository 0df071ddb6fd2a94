"""Builds the OpenAPI document (filled in with the API)."""


def build_spec():
    """The OpenAPI 3 document."""
    return {"openapi": "3.0.3", "info": {"title": "AI incident tracker", "version": "1"}, "paths": {}}
