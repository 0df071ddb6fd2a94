"""The AI system inventory (what the AI Guidelines for Business ask companies to map)."""
