"""Tests of incident intake."""
