"""Pipeline use cases: definitions, runs, the idempotent advancer, re-run and cancel (operations.md §4)."""
