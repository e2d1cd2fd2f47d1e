"""SQL Server fixed roles' documented implicit permissions (accounts.md §7), as versioned data."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

#: Version of this table; bump it when the documented permissions change.
FIXED_ROLE_TABLE_VERSION: Final = 1

#: Fixed server role → server-scope permissions it implies (effect grant).
SERVER_ROLE_PERMISSIONS: Final = MappingProxyType({
    "sysadmin": ("CONTROL SERVER",),
    "securityadmin": ("ALTER ANY LOGIN",),
    "serveradmin": ("ALTER ANY ENDPOINT", "ALTER RESOURCES", "ALTER SERVER STATE", "ALTER SETTINGS", "SHUTDOWN",
                    "VIEW SERVER STATE"),
    "setupadmin": ("ALTER ANY LINKED SERVER",),
    "processadmin": ("ALTER ANY CONNECTION", "ALTER SERVER STATE"),
    "diskadmin": ("ALTER RESOURCES",),
    "dbcreator": ("CREATE ANY DATABASE",),
    "bulkadmin": ("ADMINISTER BULK OPERATIONS",),
})

#: Fixed database role → database-scope permissions it implies (effect grant).
DATABASE_ROLE_PERMISSIONS: Final = MappingProxyType({
    "db_owner": ("CONTROL",),
    "db_datareader": ("SELECT",),
    "db_datawriter": ("INSERT", "UPDATE", "DELETE"),
    "db_backupoperator": ("BACKUP DATABASE", "BACKUP LOG", "CHECKPOINT"),
    "db_accessadmin": ("ALTER ANY USER", "CREATE SCHEMA"),
    "db_securityadmin": ("ALTER ANY ROLE", "ALTER ANY APPLICATION ROLE", "CREATE SCHEMA", "VIEW DEFINITION"),
    "db_ddladmin": ("ALTER ANY SCHEMA", "CREATE TABLE", "CREATE VIEW", "CREATE PROCEDURE", "CREATE FUNCTION",
                    "CREATE TYPE", "CREATE SYNONYM", "REFERENCES"),
})

#: Fixed database role → database-scope permissions it denies.
DATABASE_ROLE_DENIALS: Final = MappingProxyType({
    "db_denydatareader": ("SELECT",),
    "db_denydatawriter": ("INSERT", "UPDATE", "DELETE"),
})
