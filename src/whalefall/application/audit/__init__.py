"""Audit trail use cases: queries, CSV export and retention (operations.md §6, api.md §3.17)."""
