"""Shared application helpers: actor, paging, selection."""
