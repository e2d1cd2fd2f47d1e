"""SQL of the Oracle 12c+ connector (accounts.md §2.5, capacity.md §2.3, §3.2, §3.4). Binds are positional
(`:1`, `:2`) and passed as lists."""

from __future__ import annotations

from typing import Final

#: capacity.md §2.3 (18c+: `version_full`).
VERSION: Final = (
    "SELECT product, version_full AS version FROM product_component_version WHERE product LIKE 'Oracle%'"
)
#: On ORA-00904 (12c has no `version_full`).
VERSION_12: Final = "SELECT product, version FROM product_component_version WHERE product LIKE 'Oracle%'"

#: accounts.md §2.0: the read-only transaction, first statement of the transaction.
READ_ONLY: Final = "SET TRANSACTION READ ONLY"

#: Q0: version, container and the collector's own user (visibility guard).
Q0: Final = (
    "SELECT version_full AS version, SYS_CONTEXT('USERENV', 'CON_NAME') AS container, USER AS collector"
    " FROM product_component_version WHERE product LIKE 'Oracle%'"
)
Q0_12: Final = (
    "SELECT version, SYS_CONTEXT('USERENV', 'CON_NAME') AS container, USER AS collector"
    " FROM product_component_version WHERE product LIKE 'Oracle%'"
)
#: Q1 `dba_users` (12.1.0.2+: `oracle_maintained`).
Q1_USERS: Final = (
    "SELECT username, user_id, account_status, lock_date, expiry_date, created, profile, authentication_type,"
    " default_tablespace, common, oracle_maintained FROM dba_users"
)
#: Q2 `dba_roles`.
Q2_ROLES: Final = "SELECT role, authentication_type, common, oracle_maintained FROM dba_roles"
#: Q3 `dba_role_privs` (12.2+: `inherited`).
Q3_ROLE_PRIVS: Final = (
    "SELECT grantee, granted_role, admin_option, delegate_option, default_role, common, inherited"
    " FROM dba_role_privs"
)
#: Q4 `dba_sys_privs`.
Q4_SYS_PRIVS: Final = "SELECT grantee, privilege, admin_option, common, inherited FROM dba_sys_privs"

#: Q5/Q6 volume control (accounts.md §2.5 decision): grants to users that are not Oracle-maintained (SYS and
#: SYSTEM included), to roles that are not Oracle-maintained, and PUBLIC grants on objects whose owner is not
#: Oracle-maintained.
_KEPT_GRANTEES: Final = (
    " WHERE x.grantee IN (SELECT username FROM dba_users WHERE oracle_maintained = 'N'"
    " OR username IN ('SYS', 'SYSTEM'))"
    " OR x.grantee IN (SELECT role FROM dba_roles WHERE oracle_maintained = 'N')"
    " OR (x.grantee = 'PUBLIC' AND x.owner NOT IN (SELECT username FROM dba_users WHERE oracle_maintained = 'Y'))"
)
#: Q5 `dba_tab_privs`.
Q5_TAB_PRIVS: Final = (
    "SELECT x.grantee, x.owner, x.table_name, x.grantor, x.privilege, x.grantable, x.hierarchy, x.type"
    " FROM dba_tab_privs x" + _KEPT_GRANTEES
)
#: Q6 `dba_col_privs`.
Q6_COL_PRIVS: Final = (
    "SELECT x.grantee, x.owner, x.table_name, x.column_name, x.privilege, x.grantable FROM dba_col_privs x"
    + _KEPT_GRANTEES
)
#: Q5/Q6 on 12.1.0.1, which has no `oracle_maintained` (ORA-00904): every grant.
Q5_TAB_PRIVS_ALL: Final = (
    "SELECT x.grantee, x.owner, x.table_name, x.grantor, x.privilege, x.grantable, x.hierarchy, x.type"
    " FROM dba_tab_privs x"
)
Q6_COL_PRIVS_ALL: Final = (
    "SELECT x.grantee, x.owner, x.table_name, x.column_name, x.privilege, x.grantable FROM dba_col_privs x"
)
#: Q7 `dba_ts_quotas`.
Q7_QUOTAS: Final = "SELECT tablespace_name, username, max_bytes FROM dba_ts_quotas"
#: Q8 `v$pwfile_users` (no `sysrac` column: SYSRAC cannot be granted).
Q8_PWFILE: Final = "SELECT username, sysdba, sysoper, sysasm, sysbackup, sysdg, syskm FROM v$pwfile_users"
#: Q9 `dba_schema_privs` (23ai).
Q9_SCHEMA_PRIVS: Final = "SELECT grantee, privilege, schema, admin_option FROM dba_schema_privs"

# ---- capacity (the ledger unit is the tablespace) ---------------------------------------------------------------

INVENTORY: Final = "SELECT tablespace_name FROM dba_tablespaces"
#: capacity.md §3.2 / defect 31: UNDO and TEMPORARY tablespaces are system, whatever their name (12c+).
SYSTEM_TABLESPACES: Final = "SELECT tablespace_name FROM dba_tablespaces WHERE contents IN ('UNDO', 'TEMPORARY')"
#: A tablespace with any file whose `bytes` is NULL (offline) is missing, never under-counted.
SIZES: Final = (
    "SELECT tablespace_name, SUM(bytes) AS size_bytes, COUNT(*) - COUNT(bytes) AS unreadable_files"
    " FROM dba_data_files GROUP BY tablespace_name"
    " UNION ALL"
    " SELECT tablespace_name, SUM(bytes), COUNT(*) - COUNT(bytes) FROM dba_temp_files GROUP BY tablespace_name"
)
#: capacity.md §3.4: segments of tables in one tablespace, per owner and table.
TABLE_SIZES: Final = (
    "SELECT s.owner, s.segment_name, SUM(s.bytes) AS total_bytes, MAX(t.num_rows) AS num_rows"
    " FROM dba_segments s LEFT JOIN dba_tables t ON t.owner = s.owner AND t.table_name = s.segment_name"
    " WHERE s.tablespace_name = :1 AND s.segment_type IN ('TABLE', 'TABLE PARTITION', 'TABLE SUBPARTITION')"
    " GROUP BY s.owner, s.segment_name ORDER BY total_bytes DESC, s.owner, s.segment_name"
    " FETCH FIRST :2 ROWS ONLY"
)

# ---- preflight (accounts.md §2.6, capacity.md §3.6) ------------------------------------------------------------

ACCOUNT_VIEWS: Final = ("DBA_USERS", "DBA_ROLES", "DBA_ROLE_PRIVS", "DBA_SYS_PRIVS", "DBA_TAB_PRIVS", "DBA_COL_PRIVS",
                        "DBA_TS_QUOTAS", "V_$PWFILE_USERS")
CAPACITY_VIEWS: Final = ("DBA_TABLESPACES", "DBA_DATA_FILES", "DBA_TEMP_FILES", "DBA_SEGMENTS", "DBA_TABLES")


def probe(view: str) -> str:
    """A zero-row read of `SYS.<view>` (a fixed dictionary name) that fails with ORA-00942 without access."""
    return f"SELECT 1 FROM SYS.{view} WHERE 1 = 0"
