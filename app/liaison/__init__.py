"""Ministry requests and corrective notices (the AI Promotion Act's soft-law levers) and their links to incidents."""
