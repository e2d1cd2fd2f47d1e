"""Instances, credentials and tags use cases (capacity.md §1.1–1.3)."""
