"""Organisations, their people, roles, sessions and API tokens."""
