"""The MySQL/MariaDB catalog read over an executor: version-driven path choice and a constant number of
statements (accounts.md §2.0–2.2). Driver-free, so recorded rows drive it like a live server."""

from __future__ import annotations

import contextlib
from datetime import datetime

from whalefall.adapters.connectors._shared import (
    DriverError,
    Executor,
    QueryCounter,
    catalog_failure,
    text,
)
from whalefall.adapters.connectors.mysql import mapping, queries
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.accounts.normalize.builder import version_tuple
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.accounts.rows.mysql import (
    MariaDbCatalogRows,
    MySqlCatalogRows,
    MySqlDefaultRoleRow,
    MySqlGlobalGrantRow,
    MySqlRoleEdgeRow,
)
from whalefall.domain.instances import InstanceId

#: MySQL error of a column outside a column-level grant (the strict collector grant of accounts.md §2.6).
ER_COLUMNACCESS_DENIED = 1143


async def read_catalog(executor: Executor, *, instance_id: InstanceId, clock: Clock
                       ) -> MySqlCatalogRows | MariaDbCatalogRows:
    """Probe the live version, then read the flavor's Q0–Q9 inside one read-only snapshot transaction. Every
    failure of a required statement is CATALOG_READ_FAILED with its taxonomy class (never empty data)."""
    counter = QueryCounter(executor)
    observed_at = clock.now()
    try:
        [probe] = mapping.records(await counter.fetch("VERSION", queries.VERSION))
        version, collector = text(probe["version"]), text(probe["collector"])
        await executor.fetch("BEGIN", queries.START_SNAPSHOT)
        if mapping.is_mariadb(version):
            return await _mariadb(counter, instance_id=instance_id, observed_at=observed_at, collector=collector)
        return await _mysql(counter, version, instance_id=instance_id, observed_at=observed_at,
                            collector=collector)
    except ConnectorError as exc:
        raise catalog_failure(exc) from exc
    finally:
        await _end(executor)


async def _end(executor: Executor) -> None:
    # The connection is closed right after; a read-only snapshot has nothing to keep.
    with contextlib.suppress(ConnectorError):
        await executor.fetch("COMMIT", queries.END_SNAPSHOT)


async def _mariadb(counter: QueryCounter, *, instance_id: InstanceId, observed_at: datetime,
                   collector: str) -> MariaDbCatalogRows:
    server = mapping.mariadb_server(await counter.fetch("Q0", queries.MARIADB_Q0))
    users = mapping.mariadb_users(await counter.fetch("Q1", queries.MARIADB_Q1))
    db = mapping.db_privs(await counter.fetch("Q2", queries.Q2_DB))
    tables = mapping.table_privs(await counter.fetch("Q3", queries.Q3_TABLES_PRIV))
    columns = mapping.column_privs(await counter.fetch("Q4", queries.Q4_COLUMNS_PRIV))
    procs = mapping.proc_privs(await counter.fetch("Q5", queries.Q5_PROCS_PRIV))
    proxies = mapping.proxy_privs(await counter.fetch("Q6", queries.Q6_PROXIES_PRIV))
    roles = mapping.roles_mapping(await counter.fetch("Q7", queries.MARIADB_Q7_ROLES_MAPPING))
    meta = _meta(instance_id, observed_at, counter.count, collector)
    return MariaDbCatalogRows(meta=meta, server=server, users=users, db_privs=db, table_privs=tables,
                              column_privs=columns, proc_privs=procs, proxy_privs=proxies, roles_mapping=roles)


async def _mysql(counter: QueryCounter, version: str, *, instance_id: InstanceId, observed_at: datetime,
                 collector: str) -> MySqlCatalogRows:
    v = version_tuple(version)
    is_80 = v >= (8, 0, 0)
    q0 = queries.MYSQL_Q0_8016 if v >= (8, 0, 16) else queries.MYSQL_Q0_80 if is_80 else queries.MYSQL_Q0_57
    server = mapping.mysql_server(await counter.fetch("Q0", q0))
    columns = queries.MYSQL_USER_PRIV_COLUMNS_80 if is_80 else queries.MYSQL_USER_PRIV_COLUMNS_57
    restrictions, mfa = v >= (8, 0, 16), v >= (8, 0, 27)
    try:
        q1 = await counter.fetch("Q1", queries.mysql_q1(priv_columns=columns, strict=False,
                                                        restrictions=restrictions, mfa=mfa))
    except DriverError as exc:
        if exc.driver_code != ER_COLUMNACCESS_DENIED:
            raise
        # The strict column-level grant: empty-password, partial-revoke and MFA reads become null.
        q1 = await counter.fetch("Q1", queries.mysql_q1(priv_columns=columns, strict=True,
                                                        restrictions=False, mfa=False))
    users = mapping.mysql_users(q1)
    db = mapping.db_privs(await counter.fetch("Q2", queries.Q2_DB))
    tables = mapping.table_privs(await counter.fetch("Q3", queries.Q3_TABLES_PRIV))
    column_privs = mapping.column_privs(await counter.fetch("Q4", queries.Q4_COLUMNS_PRIV))
    procs = mapping.proc_privs(await counter.fetch("Q5", queries.Q5_PROCS_PRIV))
    proxies = mapping.proxy_privs(await counter.fetch("Q6", queries.Q6_PROXIES_PRIV))
    edges: tuple[MySqlRoleEdgeRow, ...] = ()
    defaults: tuple[MySqlDefaultRoleRow, ...] = ()
    dynamic: tuple[MySqlGlobalGrantRow, ...] = ()
    if is_80:
        edges = mapping.role_edges(await counter.fetch("Q7", queries.MYSQL_Q7_ROLE_EDGES))
        defaults = mapping.default_roles(await counter.fetch("Q8", queries.MYSQL_Q8_DEFAULT_ROLES))
        dynamic = mapping.global_grants(await counter.fetch("Q9", queries.MYSQL_Q9_GLOBAL_GRANTS))
    meta = _meta(instance_id, observed_at, counter.count, collector)
    return MySqlCatalogRows(meta=meta, server=server, users=users, db_privs=db, table_privs=tables,
                            column_privs=column_privs, proc_privs=procs, proxy_privs=proxies, role_edges=edges,
                            default_roles=defaults, global_grants=dynamic)


def _meta(instance_id: InstanceId, observed_at: datetime, count: int, collector: str) -> CatalogMeta:
    return CatalogMeta(instance_id=instance_id, observed_at=observed_at, query_count=count, collector=collector)
