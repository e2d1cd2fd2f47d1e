"""Embedding API of the partition planner (capacity.md §9): pure monthly plans for the metadata store."""

from whalefall.domain.partitions.planner import (
    ExistingPartition,
    IgnoredPartition,
    PartitionedTable,
    PartitionPlan,
    PartitionPolicy,
    PartitionSpec,
    add_months,
    month_start,
    partition_name,
    plan_partitions,
    write_horizon,
)

__all__ = [
    "ExistingPartition",
    "IgnoredPartition",
    "PartitionPlan",
    "PartitionPolicy",
    "PartitionSpec",
    "PartitionedTable",
    "add_months",
    "month_start",
    "partition_name",
    "plan_partitions",
    "write_horizon",
]
