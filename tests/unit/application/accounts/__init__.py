"""Accounts use cases: sync apply, ledger writes, queries."""
