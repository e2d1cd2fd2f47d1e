"""Accounts ledger queries, HTTP routes and end-to-end syncs against real servers."""
