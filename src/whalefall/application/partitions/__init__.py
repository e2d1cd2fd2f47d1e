"""Partition maintenance use cases: plan, apply, status and listings of the metadata store's partitions."""
