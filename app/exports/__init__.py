"""Exports of incidents: CSV, JSON (the API view) and an AI Incident Database / OECD AIM draft."""
