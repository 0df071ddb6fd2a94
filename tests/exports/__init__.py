"""Tests of the incident exports."""
