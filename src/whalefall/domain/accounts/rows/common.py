"""Rows shared by every engine: collection metadata and failed per-database reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.domain.instances import InstanceId

# Conventions for connectors: values arrive as the catalog holds them (names never re-cased or trimmed);
# `'Y'`/`'N'` enum columns and 0/1 flags become bool; timestamps are UTC (naive values are read as UTC);
# SQL Server SIDs are the raw varbinary bytes; JSON fragments the spec reads with JSON_EXTRACT arrive as JSON text.


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogMeta:
    """Facts about the collection itself. `collector` is the collector's own principal as the engine names it:
    MySQL/MariaDB `CURRENT_USER()` (`user@host`), PostgreSQL `current_user`, SQL Server `SUSER_SNAME()`,
    Oracle `USER`; the visibility guard requires it among the collected principals."""

    instance_id: InstanceId
    observed_at: datetime
    query_count: int
    collector: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseFailure:
    """A per-database read that failed (connect or query); becomes a coverage gap. `detail` is redacted text."""

    database: str
    connect_failed: bool
    detail: str | None = None
