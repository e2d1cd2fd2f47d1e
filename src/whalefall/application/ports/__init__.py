"""Ports: the Protocols the application needs from the outside world."""
