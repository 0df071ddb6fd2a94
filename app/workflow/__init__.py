"""Declarative response workflows: definitions in ``workflows/*.yaml``, validated and run."""
