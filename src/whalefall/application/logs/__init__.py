"""Unified-log use cases: queries, stats and retention (operations.md §5, §1.9)."""
