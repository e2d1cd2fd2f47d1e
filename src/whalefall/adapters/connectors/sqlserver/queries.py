"""SQL of the SQL Server 2012+ connector (accounts.md §2.4, capacity.md §2.3, §3.2, §3.4); `%s`/`%d` are pymssql
binds. Database names appear as identifiers only bracket-quoted with `]` doubled, and as values only bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: capacity.md §2.3.
VERSION: Final = (
    "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,"
    " CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition, @@VERSION AS version"
)
#: Q0 plus the preflight's VIEW ANY DEFINITION and the collector's own login (2012+).
Q0: Final = (
    "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,"
    " CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition,"
    " CAST(SERVERPROPERTY('Collation') AS nvarchar(128)) AS collation,"
    " HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DEFINITION') AS has_view_any_definition,"
    " SUSER_SNAME() AS collector"
)
#: Q1 `sys.server_principals` ⟕ `sys.sql_logins` (2012+); `password_hash` is never read.
Q1_PRINCIPALS: Final = (
    "SELECT p.principal_id, p.sid, p.name, p.type, p.type_desc, p.is_disabled, p.default_database_name,"
    " p.is_fixed_role, p.owning_principal_id, l.is_policy_checked, l.is_expiration_checked,"
    " CASE WHEN p.type = 'S' THEN CAST(LOGINPROPERTY(p.name, 'IsLocked') AS int) END AS is_locked,"
    " CASE WHEN p.type = 'S' THEN CAST(LOGINPROPERTY(p.name, 'IsExpired') AS int) END AS is_expired,"
    " CASE WHEN p.type = 'S' THEN CAST(LOGINPROPERTY(p.name, 'IsMustChange') AS int) END AS is_must_change,"
    " CASE WHEN p.type = 'S' THEN CAST(LOGINPROPERTY(p.name, 'PasswordLastSetTime') AS datetime) END"
    " AS password_last_set_time"
    " FROM sys.server_principals AS p LEFT JOIN sys.sql_logins AS l ON l.principal_id = p.principal_id"
)
#: Q2 `sys.server_role_members`.
Q2_ROLE_MEMBERS: Final = "SELECT role_principal_id, member_principal_id FROM sys.server_role_members"
#: Q3 `sys.server_permissions` (states G, W, D).
Q3_PERMISSIONS: Final = (
    "SELECT class, class_desc, major_id, minor_id, grantee_principal_id, grantor_principal_id, permission_name,"
    " state FROM sys.server_permissions"
)
#: Q4 `sys.endpoints` (names of class 105 securables).
Q4_ENDPOINTS: Final = "SELECT endpoint_id, name FROM sys.endpoints"
#: Q5 `sys.databases`.
Q5_DATABASES: Final = (
    "SELECT database_id, name, owner_sid, state, state_desc, is_read_only, user_access_desc, containment,"
    " HAS_DBACCESS(name) AS has_dbaccess FROM sys.databases"
)
#: Databases per D1–D3 statement (accounts.md §2.4).
BATCH_SIZE: Final = 20


def quote_name(name: str) -> str:
    """`[name]` with `]` doubled, like QUOTENAME (which is limited to 128 characters and returns NULL past it)."""
    return "[" + name.replace("]", "]]") + "]"


#: D1 `[db].sys.database_principals` (dbo included).
_D1: Final = (
    "SELECT %s AS database_name, principal_id, name, type, sid, default_schema_name,"
    " authentication_type_desc AS authentication_type, owning_principal_id, is_fixed_role"
    " FROM {db}.sys.database_principals"
)
#: D2 `[db].sys.database_role_members`.
_D2: Final = "SELECT %s AS database_name, role_principal_id, member_principal_id FROM {db}.sys.database_role_members"
#: D3 `[db].sys.database_permissions` with every name resolved in that same database.
_D3: Final = (
    "SELECT %s AS database_name, p.class, p.class_desc, p.major_id, p.minor_id, p.grantee_principal_id,"
    " p.permission_name, p.state,"
    " CASE WHEN p.class = 3 THEN s.name WHEN p.class = 1 THEN os.name END AS schema_name,"
    " CASE WHEN p.class = 1 THEN o.name END AS object_name,"
    " CASE WHEN p.class = 1 THEN o.type END AS object_type,"
    " CASE WHEN p.class = 1 AND p.minor_id > 0 THEN c.name END AS column_name,"
    " CASE p.class WHEN 4 THEN dp.name WHEN 5 THEN a.name WHEN 6 THEN t.name WHEN 24 THEN sk.name"
    " WHEN 25 THEN ce.name WHEN 26 THEN ak.name END AS securable_name"
    " FROM {db}.sys.database_permissions AS p"
    " LEFT JOIN {db}.sys.schemas AS s ON p.class = 3 AND s.schema_id = p.major_id"
    " LEFT JOIN {db}.sys.all_objects AS o ON p.class = 1 AND o.object_id = p.major_id"
    " LEFT JOIN {db}.sys.schemas AS os ON os.schema_id = o.schema_id"
    " LEFT JOIN {db}.sys.all_columns AS c"
    " ON p.class = 1 AND p.minor_id > 0 AND c.object_id = p.major_id AND c.column_id = p.minor_id"
    " LEFT JOIN {db}.sys.database_principals AS dp ON p.class = 4 AND dp.principal_id = p.major_id"
    " LEFT JOIN {db}.sys.assemblies AS a ON p.class = 5 AND a.assembly_id = p.major_id"
    " LEFT JOIN {db}.sys.types AS t ON p.class = 6 AND t.user_type_id = p.major_id"
    " LEFT JOIN {db}.sys.symmetric_keys AS sk ON p.class = 24 AND sk.symmetric_key_id = p.major_id"
    " LEFT JOIN {db}.sys.certificates AS ce ON p.class = 25 AND ce.certificate_id = p.major_id"
    " LEFT JOIN {db}.sys.asymmetric_keys AS ak ON p.class = 26 AND ak.asymmetric_key_id = p.major_id"
)
PER_DATABASE: Final = {"D1": _D1, "D2": _D2, "D3": _D3}


def per_database(kind: str, databases: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """One UNION ALL statement of D1, D2 or D3 over up to BATCH_SIZE databases, and its bound names."""
    if not 1 <= len(databases) <= BATCH_SIZE:
        raise ValueError(f"a batch holds 1–{BATCH_SIZE} databases")
    template = PER_DATABASE[kind]
    # `%` is pymssql's parameter marker: doubled inside identifiers so `[50%off]` stays a name.
    sql = " UNION ALL ".join(template.format(db=quote_name(name).replace("%", "%%")) for name in databases)
    return sql, tuple(databases)


# ---- capacity ---------------------------------------------------------------------------------------------------

#: capacity.md §3.2: snapshots are not databases.
INVENTORY: Final = "SELECT name FROM sys.databases WHERE source_database_id IS NULL"
#: capacity.md §3.2 system databases as the catalog marks them: database_id 1–4 and distribution databases
#: (`is_distributor`, SQL Server 2012+); snapshots are left out like in the inventory.
SYSTEM_DATABASES: Final = (
    "SELECT name FROM sys.databases WHERE source_database_id IS NULL AND (database_id <= 4 OR is_distributor = 1)"
)
#: Data (ROWS, FILESTREAM as 0, full-text) and log pages per database; a database without file rows is missing.
SIZES: Final = (
    "SELECT d.name,"
    " SUM(CASE WHEN f.type NOT IN (1, 2) THEN CAST(f.size AS bigint) * 8192 ELSE 0 END) AS data_bytes,"
    " SUM(CASE WHEN f.type = 1 THEN CAST(f.size AS bigint) * 8192 ELSE 0 END) AS log_bytes,"
    " COUNT(f.file_id) AS file_count"
    " FROM sys.databases AS d LEFT JOIN sys.master_files AS f ON f.database_id = d.database_id"
    " WHERE d.source_database_id IS NULL GROUP BY d.name"
)
#: tempdb's current size (sys.master_files keeps its configured size).
TEMPDB_SIZES: Final = (
    "SELECT SUM(CASE WHEN type NOT IN (1, 2) THEN CAST(size AS bigint) * 8192 ELSE 0 END) AS data_bytes,"
    " SUM(CASE WHEN type = 1 THEN CAST(size AS bigint) * 8192 ELSE 0 END) AS log_bytes,"
    " COUNT(file_id) AS file_count FROM tempdb.sys.database_files"
)
#: capacity.md §3.4, on a connection to that database.
TABLE_SIZES: Final = (
    "SELECT TOP (%d) s.name AS schema_name, t.name AS table_name,"
    " SUM(ps.reserved_page_count) * 8192 AS total_bytes,"
    " SUM(CASE WHEN ps.index_id IN (0, 1) THEN ps.in_row_used_page_count + ps.lob_used_page_count"
    " + ps.row_overflow_used_page_count ELSE 0 END) * 8192 AS data_bytes,"
    " (SUM(ps.used_page_count) - SUM(CASE WHEN ps.index_id IN (0, 1) THEN ps.in_row_used_page_count"
    " + ps.lob_used_page_count + ps.row_overflow_used_page_count ELSE 0 END)) * 8192 AS index_bytes,"
    " SUM(CASE WHEN ps.index_id IN (0, 1) THEN ps.row_count ELSE 0 END) AS row_estimate"
    " FROM sys.dm_db_partition_stats AS ps JOIN sys.tables AS t ON t.object_id = ps.object_id"
    " JOIN sys.schemas AS s ON s.schema_id = t.schema_id"
    " GROUP BY s.name, t.name ORDER BY total_bytes DESC, s.name, t.name"
)

# ---- preflight (accounts.md §2.6, capacity.md §3.6) ------------------------------------------------------------

#: NULL for a permission the version does not know (CONNECT ANY DATABASE before 2014).
PREFLIGHT: Final = (
    "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DEFINITION') AS view_any_definition,"
    " HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DATABASE') AS view_any_database,"
    " HAS_PERMS_BY_NAME(NULL, NULL, 'CONNECT ANY DATABASE') AS connect_any_database"
)
