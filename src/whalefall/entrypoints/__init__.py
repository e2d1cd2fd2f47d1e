"""Entrypoints: HTTP API, worker, scheduler, CLI and the composition root."""
