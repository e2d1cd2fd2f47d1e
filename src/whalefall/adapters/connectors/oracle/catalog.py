"""The Oracle catalog read over an executor: Q0–Q9 inside one `SET TRANSACTION READ ONLY` (accounts.md §2.0,
§2.5), version fallbacks on ORA-00904. Driver-free, so recorded rows drive it like a live server."""

from __future__ import annotations

import contextlib

from whalefall.adapters.connectors._shared import DriverError, Executor, QueryCounter, ResultSet, catalog_failure
from whalefall.adapters.connectors.oracle import mapping, queries
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows, OracleSchemaPrivRow
from whalefall.domain.instances import InstanceId

#: Invalid identifier: a column the server version does not have.
ORA_INVALID_IDENTIFIER = "ORA-00904"


async def fetch_with_fallback(counter: QueryCounter, name: str, sql: str, fallback: str) -> ResultSet:
    """`sql`, or `fallback` when this version lacks one of its columns."""
    try:
        return await counter.fetch(name, sql)
    except DriverError as exc:
        if exc.driver_code != ORA_INVALID_IDENTIFIER:
            raise
        return await counter.fetch(name, fallback)


async def read_catalog(executor: Executor, *, instance_id: InstanceId, clock: Clock) -> OracleCatalogRows:
    """Every failure is CATALOG_READ_FAILED with its taxonomy class (ORA-00942 → PERMISSION_DENIED)."""
    counter = QueryCounter(executor)
    observed_at = clock.now()
    try:
        await executor.fetch("READ_ONLY", queries.READ_ONLY)
        server, collector = mapping.server_row(await fetch_with_fallback(counter, "Q0", queries.Q0, queries.Q0_12))
        users = mapping.users(await counter.fetch("Q1", queries.Q1_USERS))
        roles = mapping.roles(await counter.fetch("Q2", queries.Q2_ROLES))
        role_privs = mapping.role_privs(await counter.fetch("Q3", queries.Q3_ROLE_PRIVS))
        sys_privs = mapping.sys_privs(await counter.fetch("Q4", queries.Q4_SYS_PRIVS))
        tab_privs = mapping.tab_privs(await fetch_with_fallback(counter, "Q5", queries.Q5_TAB_PRIVS,
                                                                queries.Q5_TAB_PRIVS_ALL))
        col_privs = mapping.col_privs(await fetch_with_fallback(counter, "Q6", queries.Q6_COL_PRIVS,
                                                                queries.Q6_COL_PRIVS_ALL))
        quotas = mapping.quotas(await counter.fetch("Q7", queries.Q7_QUOTAS))
        pwfile = mapping.pwfile_users(await counter.fetch("Q8", queries.Q8_PWFILE))
        schema_privs: tuple[OracleSchemaPrivRow, ...] = ()
        if mapping.major_version(server.version) >= 23:
            schema_privs = mapping.schema_privs(await counter.fetch("Q9", queries.Q9_SCHEMA_PRIVS))
    except ConnectorError as exc:
        raise catalog_failure(exc) from exc
    finally:
        with contextlib.suppress(ConnectorError):
            await executor.fetch("END", "ROLLBACK")     # ends the read-only transaction; nothing was written
    meta = CatalogMeta(instance_id=instance_id, observed_at=observed_at, query_count=counter.count,
                       collector=collector)
    return OracleCatalogRows(meta=meta, server=server, users=users, roles=roles, role_privs=role_privs,
                             sys_privs=sys_privs, tab_privs=tab_privs, col_privs=col_privs, quotas=quotas,
                             pwfile_users=pwfile, schema_privs=schema_privs)
