"""Incidents: intake, facts, deadlines and the timeline."""
