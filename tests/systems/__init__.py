"""Tests of the AI system inventory."""
