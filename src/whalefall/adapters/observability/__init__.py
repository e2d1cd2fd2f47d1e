"""Observability adapters: the one structlog configuration of a process."""
