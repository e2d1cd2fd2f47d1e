"""The SQL Server catalog read over an executor: Q0–Q5 on `master`, then D1–D3 through three-part names in UNION
ALL batches of at most 20 databases, a failed batch re-run one database at a time (accounts.md §2.0, §2.4).
Driver-free, so recorded rows drive it like a live server."""

from __future__ import annotations

from whalefall.adapters.connectors._shared import Executor, QueryCounter, catalog_failure, text
from whalefall.adapters.connectors.sqlserver import mapping, queries
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.accounts.rows.common import CatalogMeta, DatabaseFailure
from whalefall.domain.accounts.rows.sqlserver import SqlServerCatalogRows, SqlServerDatabaseRows
from whalefall.domain.instances import InstanceId
from whalefall.domain.sessions.backoff import ErrorClass

_KINDS = ("D1", "D2", "D3")


async def read_catalog(executor: Executor, *, instance_id: InstanceId, clock: Clock) -> SqlServerCatalogRows:
    """Server-level failures fail the instance (CATALOG_READ_FAILED with its class), and so does a lost
    connection; any other per-database failure leaves that database as a DatabaseFailure (a coverage gap)."""
    counter = QueryCounter(executor)
    observed_at = clock.now()
    try:
        [q0] = mapping.records(await counter.fetch("Q0", queries.Q0))
        principals = mapping.principals(await counter.fetch("Q1", queries.Q1_PRINCIPALS))
        members = mapping.role_members(await counter.fetch("Q2", queries.Q2_ROLE_MEMBERS))
        permissions = mapping.server_permissions(await counter.fetch("Q3", queries.Q3_PERMISSIONS))
        endpoints = mapping.endpoints(await counter.fetch("Q4", queries.Q4_ENDPOINTS))
        databases = mapping.databases(await counter.fetch("Q5", queries.Q5_DATABASES))
        readable = [d.name for d in databases if d.state == 0 and d.has_dbaccess]
        read: list[SqlServerDatabaseRows] = []
        failed: list[DatabaseFailure] = []
        for start in range(0, len(readable), queries.BATCH_SIZE):
            batch = readable[start:start + queries.BATCH_SIZE]
            try:
                read.extend(await _read_batch(counter, batch))
            except ConnectorError as exc:
                _raise_if_connection_lost(exc)
                for database in batch:
                    try:
                        read.extend(await _read_batch(counter, [database]))
                    except ConnectorError as single:
                        _raise_if_connection_lost(single)
                        failed.append(DatabaseFailure(database=database, connect_failed=False,
                                                      detail=single.message))
    except ConnectorError as exc:
        raise catalog_failure(exc) from exc
    meta = CatalogMeta(instance_id=instance_id, observed_at=observed_at, query_count=counter.count,
                       collector=text(q0["collector"]))
    return SqlServerCatalogRows(meta=meta, server=mapping.server_row(q0), principals=principals,
                                server_role_members=members, server_permissions=permissions, endpoints=endpoints,
                                databases=databases, database_rows=tuple(read), failed_databases=tuple(failed))


def _raise_if_connection_lost(exc: ConnectorError) -> None:
    if exc.error_class is ErrorClass.CONNECTION_LOST:
        raise exc


async def _read_batch(counter: QueryCounter, batch: list[str]) -> list[SqlServerDatabaseRows]:
    results = {}
    for kind in _KINDS:
        sql, params = queries.per_database(kind, batch)
        results[kind] = mapping.by_database(await counter.fetch(kind, sql, params))
    return [
        SqlServerDatabaseRows(
            database=database,
            principals=mapping.database_principals(results["D1"].get(database, [])),
            role_members=mapping.database_role_members(results["D2"].get(database, [])),
            permissions=mapping.database_permissions(results["D3"].get(database, [])),
        )
        for database in batch
    ]
