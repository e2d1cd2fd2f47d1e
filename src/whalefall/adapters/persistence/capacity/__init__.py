"""Capacity persistence: set-based aggregation, ledger and sample writes, and the capacity read side."""
