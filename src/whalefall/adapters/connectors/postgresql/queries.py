"""SQL of the PostgreSQL 12+ connector (accounts.md §2.3, capacity.md §2.3, §3.2, §3.4); `%s` are psycopg binds.

`rolpassword` and `pg_authid` are never read; every catalog used is readable by any role (accounts.md §2.6).
"""

from __future__ import annotations

from typing import Final

#: capacity.md §2.3 (`SHOW server_version_num` and `version()` in one statement).
VERSION: Final = "SELECT current_setting('server_version_num') AS server_version_num, version() AS version"

#: Q0, plus the collector's own role for the visibility guard.
Q0: Final = (
    "SELECT current_setting('server_version_num')::int AS server_version_num,"
    " current_database() AS current_database, current_user AS collector"
)
#: Q1 `pg_roles`; ±infinity is not representable in Python and means "no expiry", so it reads as NULL.
Q1_ROLES: Final = (
    "SELECT oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,"
    " rolbypassrls, rolconnlimit,"
    " CASE WHEN isfinite(rolvaliduntil) THEN rolvaliduntil END AS rolvaliduntil"
    " FROM pg_roles"
)
#: Q2 `pg_auth_members` before 16.
Q2_MEMBERS: Final = "SELECT roleid, member, grantor, admin_option FROM pg_auth_members"
#: Q2 on 16+: per-grant INHERIT and SET options.
Q2_MEMBERS_16: Final = (
    "SELECT roleid, member, grantor, admin_option, inherit_option, set_option FROM pg_auth_members"
)
#: Q3 `pg_database` × aclexplode; entries from acldefault (NULL ACL) are implicit.
Q3_DATABASES: Final = (
    "SELECT d.datname, d.datdba, d.datallowconn, d.datistemplate, a.grantor, a.grantee, a.privilege_type,"
    " a.is_grantable, d.datacl IS NULL AS implicit"
    " FROM pg_database d CROSS JOIN LATERAL aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a"
)
#: Q4 `pg_tablespace` × aclexplode.
Q4_TABLESPACES: Final = (
    "SELECT t.spcname, a.grantor, a.grantee, a.privilege_type, a.is_grantable, t.spcacl IS NULL AS implicit"
    " FROM pg_tablespace t CROSS JOIN LATERAL aclexplode(COALESCE(t.spcacl, acldefault('t', t.spcowner))) a"
)
#: D1 `pg_namespace` × aclexplode, without the catalog, TOAST and temporary schemas.
D1_SCHEMAS: Final = (
    "SELECT n.nspname, a.grantor, a.grantee, a.privilege_type, a.is_grantable, n.nspacl IS NULL AS implicit"
    " FROM pg_namespace n CROSS JOIN LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a"
    " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
)
#: D2 `pg_class` (r, p, v, m, f, S) with an ACL × aclexplode; in pg_catalog and information_schema only the
#: entries that differ from the object's default ACL, so a stock database adds nothing there.
D2_RELATIONS: Final = (
    "SELECT n.nspname, c.relname, c.relkind, a.grantor, a.grantee, a.privilege_type, a.is_grantable"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a"
    " WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
    " AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR NOT EXISTS ("
    "SELECT 1 FROM aclexplode(acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)) d"
    " WHERE d.grantee = a.grantee AND d.privilege_type = a.privilege_type AND d.is_grantable = a.is_grantable))"
)
#: D3 columns: `pg_attribute` with an ACL (the default column ACL is empty, so every entry differs from it).
D3_COLUMNS: Final = (
    "SELECT n.nspname, c.relname, t.attname, a.grantor, a.grantee, a.privilege_type, a.is_grantable"
    " FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " CROSS JOIN LATERAL aclexplode(t.attacl) a"
    " WHERE t.attacl IS NOT NULL AND t.attnum > 0 AND NOT t.attisdropped"
    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
)
#: D3 routines run with `search_path` = pg_catalog (ROUTINE_SEARCH_PATH first), so `oid::regprocedure` is
#: schema-qualified for every schema but pg_catalog; the mapping strips the leading `quote_ident(nspname).`.
D3_ROUTINES: Final = (
    "SELECT n.nspname, quote_ident(n.nspname) AS quoted_nspname, p.oid::regprocedure::text AS signature,"
    " p.prokind, a.grantor, a.grantee, a.privilege_type, a.is_grantable"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace CROSS JOIN LATERAL aclexplode(p.proacl) a"
    " WHERE p.proacl IS NOT NULL"
    " AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR NOT EXISTS ("
    "SELECT 1 FROM aclexplode(acldefault('f', p.proowner)) d"
    " WHERE d.grantee = a.grantee AND d.privilege_type = a.privilege_type AND d.is_grantable = a.is_grantable))"
)
#: Transaction-local, so the connection's own search_path is back after the snapshot.
ROUTINE_SEARCH_PATH: Final = "SELECT set_config('search_path', 'pg_catalog', true)"

# ---- capacity ---------------------------------------------------------------------------------------------------

#: capacity.md §3.2 (templates included).
INVENTORY: Final = "SELECT datname FROM pg_database"
#: capacity.md §3.2: NULL = unreadable; USAGE (not MEMBER) because pg_database_size checks the privileges of
#: pg_read_all_stats, which a NOINHERIT member does not have.
SIZES: Final = (
    "SELECT d.datname, CASE WHEN has_database_privilege(d.oid, 'CONNECT')"
    " OR pg_has_role('pg_read_all_stats', 'USAGE') THEN pg_database_size(d.oid) END AS size_bytes"
    " FROM pg_database d"
)
#: capacity.md §3.4, on a connection to that database.
TABLE_SIZES: Final = (
    "SELECT n.nspname, c.relname, pg_total_relation_size(c.oid) AS total_bytes, pg_table_size(c.oid) AS data_bytes,"
    " pg_indexes_size(c.oid) AS index_bytes, CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS row_estimate"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%%'"    # `%%`: this statement has bound parameters
    " ORDER BY total_bytes DESC, n.nspname, c.relname LIMIT %s"
)

# ---- preflight (accounts.md §2.6, capacity.md §3.6) ------------------------------------------------------------

#: Databases that will be scanned but refuse the collector CONNECT.
NO_CONNECT: Final = (
    "SELECT datname FROM pg_database"
    " WHERE datallowconn AND NOT datistemplate AND NOT has_database_privilege(oid, 'CONNECT') ORDER BY datname"
)
