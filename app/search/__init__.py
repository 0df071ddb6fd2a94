"""Full-text search over incidents (title, description, timeline comments), Japanese included."""
