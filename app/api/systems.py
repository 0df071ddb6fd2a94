"""AI systems API."""
