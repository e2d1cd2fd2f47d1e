"""SQL of the MySQL 5.7/8.x and MariaDB 10.4+ connector (accounts.md §2.1–2.2, capacity.md §2.3, §3.2–3.4).

Every statement is read-only; `%s` placeholders are pymysql's bound parameters.
"""

from __future__ import annotations

from typing import Final

#: capacity.md §2.3 plus the collector's own account (accounts.md §2.0 visibility guard); every version.
VERSION: Final = "SELECT VERSION() AS version, @@version_comment AS version_comment, CURRENT_USER() AS collector"

#: accounts.md §2.0: one consistent read (8.0 grant tables are InnoDB; 5.7 MyISAM and MariaDB Aria tables are
#: statement-consistent only).
START_SNAPSHOT: Final = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
END_SNAPSHOT: Final = "COMMIT"

# ---- MySQL 5.7 / 8.x (§2.1) ------------------------------------------------------------------------------------

#: Q0 on 5.7.9+.
MYSQL_Q0_57: Final = (
    "SELECT VERSION() AS version, @@version_comment AS version_comment,"
    " @@global.default_password_lifetime AS default_password_lifetime,"
    " @@lower_case_table_names AS lower_case_table_names"
)
#: Q0 on 8.0.0–8.0.15: adds mandatory roles and activate_all_roles_on_login.
MYSQL_Q0_80: Final = (
    MYSQL_Q0_57 + ", @@global.mandatory_roles AS mandatory_roles,"
    " @@global.activate_all_roles_on_login AS activate_all_roles_on_login"
)
#: Q0 on 8.0.16+: adds partial revokes (an unknown variable before).
MYSQL_Q0_8016: Final = MYSQL_Q0_80 + ", @@global.partial_revokes AS partial_revokes"

#: Static `*_priv` columns of `mysql.user` on 5.7 in the order of accounts.md §2.1.
MYSQL_USER_PRIV_COLUMNS_57: Final = (
    "Select_priv", "Insert_priv", "Update_priv", "Delete_priv", "Create_priv", "Drop_priv", "Reload_priv",
    "Shutdown_priv", "Process_priv", "File_priv", "Grant_priv", "References_priv", "Index_priv", "Alter_priv",
    "Show_db_priv", "Super_priv", "Create_tmp_table_priv", "Lock_tables_priv", "Execute_priv", "Repl_slave_priv",
    "Repl_client_priv", "Create_view_priv", "Show_view_priv", "Create_routine_priv", "Alter_routine_priv",
    "Create_user_priv", "Event_priv", "Trigger_priv", "Create_tablespace_priv",
)
#: 8.0 adds the role privileges.
MYSQL_USER_PRIV_COLUMNS_80: Final = (*MYSQL_USER_PRIV_COLUMNS_57, "Create_role_priv", "Drop_role_priv")

_MYSQL_USER_COLUMNS: Final = (
    "User, Host, plugin, account_locked, password_expired, password_last_changed, password_lifetime, ssl_type,"
    " max_questions, max_updates, max_connections, max_user_connections"
)


def mysql_q1(*, priv_columns: tuple[str, ...], strict: bool, restrictions: bool, mfa: bool) -> str:
    """Q1 `mysql.user` (5.7.9+). `strict` leaves out every expression on `authentication_string` and
    `User_attributes` (the column-level grant of §2.6; naming them fails the statement with 1143);
    `restrictions` on 8.0.16+, `mfa` on 8.0.27+. Neither column is ever selected itself."""
    parts = [_MYSQL_USER_COLUMNS, ", ".join(priv_columns)]
    if not strict:
        parts.append("authentication_string = '' AS empty_authentication_string")
        if restrictions:
            parts.append("JSON_EXTRACT(User_attributes, '$.Restrictions') AS restrictions_json")
        if mfa:
            parts.append("JSON_EXTRACT(User_attributes, '$.multi_factor_authentication[*].plugin')"
                         " AS mfa_plugins_json")
    return f"SELECT {', '.join(parts)} FROM mysql.user"


#: Q2 `mysql.db`: the table holds only its key and `*_priv` columns on every supported version, so `*` follows
#: the version's privilege columns (MariaDB Delete_history_priv 10.3.4+, Show_create_routine_priv 11.3+).
Q2_DB: Final = "SELECT * FROM mysql.db"
#: Q3 `mysql.tables_priv` (5.7+, MariaDB 10.4+).
Q3_TABLES_PRIV: Final = "SELECT Host, Db, User, Table_name, Grantor, Table_priv FROM mysql.tables_priv"
#: Q4 `mysql.columns_priv`.
Q4_COLUMNS_PRIV: Final = "SELECT Host, Db, User, Table_name, Column_name, Column_priv FROM mysql.columns_priv"
#: Q5 `mysql.procs_priv`; MariaDB routine types include PACKAGE and PACKAGE BODY.
Q5_PROCS_PRIV: Final = (
    "SELECT Host, Db, User, Routine_name, Routine_type, Grantor, Proc_priv FROM mysql.procs_priv"
)
#: Q6 `mysql.proxies_priv`.
Q6_PROXIES_PRIV: Final = "SELECT Host, User, Proxied_host, Proxied_user, With_grant FROM mysql.proxies_priv"
#: Q7 `mysql.role_edges` (8.0): `GRANT r TO u` stores FROM = r, TO = u.
MYSQL_Q7_ROLE_EDGES: Final = (
    "SELECT FROM_HOST, FROM_USER, TO_HOST, TO_USER, WITH_ADMIN_OPTION FROM mysql.role_edges"
)
#: Q8 `mysql.default_roles` (8.0).
MYSQL_Q8_DEFAULT_ROLES: Final = (
    "SELECT HOST, USER, DEFAULT_ROLE_HOST, DEFAULT_ROLE_USER FROM mysql.default_roles"
)
#: Q9 `mysql.global_grants` (8.0): dynamic privileges.
MYSQL_Q9_GLOBAL_GRANTS: Final = "SELECT USER, HOST, PRIV, WITH_GRANT_OPTION FROM mysql.global_grants"

# ---- MariaDB 10.4+ (§2.2) --------------------------------------------------------------------------------------

#: Q0.
MARIADB_Q0: Final = "SELECT VERSION() AS version, @@global.default_password_lifetime AS default_password_lifetime"
#: Q1 `mysql.global_priv`, one JSON_VALUE per key; the `Priv` document itself is never fetched.
MARIADB_Q1: Final = (
    "SELECT Host, User,"
    " JSON_VALUE(Priv, '$.access') AS access,"
    " JSON_VALUE(Priv, '$.plugin') AS plugin,"
    " JSON_VALUE(Priv, '$.account_locked') AS account_locked,"
    " JSON_VALUE(Priv, '$.password_last_changed') AS password_last_changed,"
    " JSON_VALUE(Priv, '$.password_lifetime') AS password_lifetime,"
    " JSON_VALUE(Priv, '$.is_role') AS is_role,"
    " JSON_VALUE(Priv, '$.default_role') AS default_role,"
    " JSON_VALUE(Priv, '$.ssl_type') AS ssl_type,"
    " JSON_VALUE(Priv, '$.max_questions') AS max_questions,"
    " JSON_VALUE(Priv, '$.max_updates') AS max_updates,"
    " JSON_VALUE(Priv, '$.max_connections') AS max_connections,"
    " JSON_VALUE(Priv, '$.max_user_connections') AS max_user_connections,"
    " JSON_VALUE(Priv, '$.max_statement_time') AS max_statement_time,"
    " JSON_VALUE(Priv, '$.version_id') AS version_id,"
    " JSON_EXTRACT(Priv, '$.auth_or[*].plugin') AS auth_or_plugins_json,"
    " JSON_VALUE(Priv, '$.authentication_string') = '' AS empty_authentication_string"
    " FROM mysql.global_priv"
)
#: Q7 `mysql.roles_mapping`.
MARIADB_Q7_ROLES_MAPPING: Final = "SELECT Host, User, Role, Admin_option FROM mysql.roles_mapping"

# ---- capacity (capacity.md §3.2–3.4) ---------------------------------------------------------------------------

INVENTORY: Final = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA"
#: MySQL 8.0+ caches statistics columns for `information_schema_stats_expiry` seconds; MariaDB has no cache.
STATS_EXPIRY_OFF: Final = "SET SESSION information_schema_stats_expiry = 0"
#: MySQL 5.7 and every MariaDB (both need PROCESS).
TABLESPACE_VIEW_SYS: Final = "information_schema.INNODB_SYS_TABLESPACES"
#: MySQL 8.0 / 8.4 / 9.x (needs PROCESS).
TABLESPACE_VIEW_80: Final = "information_schema.INNODB_TABLESPACES"
TABLESPACES_SYS: Final = f"SELECT NAME, FILE_SIZE FROM {TABLESPACE_VIEW_SYS}"
TABLESPACES_80: Final = f"SELECT NAME, FILE_SIZE FROM {TABLESPACE_VIEW_80}"
NON_INNODB_SIZES: Final = (
    "SELECT TABLE_SCHEMA, SUM(DATA_LENGTH + INDEX_LENGTH) AS bytes FROM information_schema.TABLES"
    " WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND ENGINE <> 'InnoDB' GROUP BY TABLE_SCHEMA"
)
TABLE_SIZES: Final = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, DATA_LENGTH + INDEX_LENGTH AS total_bytes, DATA_LENGTH, INDEX_LENGTH,"
    " TABLE_ROWS FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
    " ORDER BY total_bytes DESC, TABLE_NAME LIMIT %s"
)

# ---- preflight (accounts.md §2.6, capacity.md §3.6) ------------------------------------------------------------

#: Global privileges the current account holds directly (roles are not expanded here).
GLOBAL_PRIVILEGES: Final = "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES"


def probe(table: str) -> str:
    """A zero-row read that fails exactly when the collector may not read `table` (a fixed catalog name)."""
    return f"SELECT 1 FROM {table} LIMIT 0"
