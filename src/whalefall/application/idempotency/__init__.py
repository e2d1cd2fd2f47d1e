"""Idempotency keys of unsafe requests (api.md §1.14): claim, replay, store the outcome, purge expired keys."""
