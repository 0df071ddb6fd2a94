"""Incidents API."""
