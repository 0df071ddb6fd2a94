"""Response leads' queues: the open incidents by nearest deadline, and assignment."""
