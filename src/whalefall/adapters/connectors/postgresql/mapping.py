"""Driver-free mapping of PostgreSQL result sets to the port's typed rows, version parsing and sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from whalefall.adapters.connectors._shared import (
    ResultSet,
    flag,
    optional_int,
    text,
    utc_datetime,
)
from whalefall.application.ports.connectors import DatabaseSizeRow, ServerInfo, SizeCollection, TableSizeRow
from whalefall.domain.accounts.rows.postgresql import (
    PgAclRow,
    PgAuthMemberRow,
    PgColumnAclRow,
    PgDatabaseAclRow,
    PgRelationAclRow,
    PgRoleRow,
    PgRoutineAclRow,
    PgSchemaAclRow,
    PgServerRow,
    PgTablespaceAclRow,
)
from whalefall.domain.instances import Flavor


def records(result: ResultSet) -> list[dict[str, object]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def version_numbers(num: int) -> tuple[str, int, int]:
    """capacity.md §2.3 / E15: ≥ 100000 → `major.minor`; below → `major.minor.patch` (90624 → 9.6.24)."""
    if num >= 100000:
        major, minor = num // 10000, num % 10000
        return f"{major}.{minor}", major, minor
    major, minor, patch = num // 10000, (num // 100) % 100, num % 100
    return f"{major}.{minor}.{patch}", major, minor


def server_info(result: ResultSet) -> ServerInfo:
    [row] = records(result)
    raw = text(row["version"])
    num = optional_int(row["server_version_num"])
    if num is None:
        return ServerInfo(flavor=Flavor.POSTGRESQL.value, version=None, version_major=None, version_minor=None,
                          edition=None, product=None, raw=raw)
    version, major, minor = version_numbers(num)
    return ServerInfo(flavor=Flavor.POSTGRESQL.value, version=version, version_major=major, version_minor=minor,
                      edition=None, product=None, raw=raw)


def server_row(record: Mapping[str, object], object_grants: str) -> PgServerRow:
    return PgServerRow(server_version_num=optional_int(record["server_version_num"]) or 0,
                       current_database=text(record["current_database"]), object_grants=object_grants)


def roles(result: ResultSet) -> tuple[PgRoleRow, ...]:
    return tuple(
        PgRoleRow(oid=optional_int(r["oid"]) or 0, rolname=text(r["rolname"]), rolsuper=flag(r["rolsuper"]),
                  rolinherit=flag(r["rolinherit"]), rolcreaterole=flag(r["rolcreaterole"]),
                  rolcreatedb=flag(r["rolcreatedb"]), rolcanlogin=flag(r["rolcanlogin"]),
                  rolreplication=flag(r["rolreplication"]), rolbypassrls=flag(r["rolbypassrls"]),
                  rolconnlimit=_connlimit(r["rolconnlimit"]),
                  rolvaliduntil=utc_datetime(r["rolvaliduntil"]))
        for r in records(result)
    )


def _connlimit(value: object) -> int:
    limit = optional_int(value)
    return -1 if limit is None else limit


def memberships(result: ResultSet) -> tuple[PgAuthMemberRow, ...]:
    return tuple(
        PgAuthMemberRow(roleid=optional_int(r["roleid"]) or 0, member=optional_int(r["member"]) or 0,
                        grantor=optional_int(r["grantor"]), admin_option=flag(r["admin_option"]),
                        inherit_option=None if r.get("inherit_option") is None else flag(r["inherit_option"]),
                        set_option=None if r.get("set_option") is None else flag(r["set_option"]))
        for r in records(result)
    )


def _acl(r: Mapping[str, object]) -> PgAclRow:
    return PgAclRow(grantor=optional_int(r["grantor"]), grantee=optional_int(r["grantee"]) or 0,
                    privilege_type=text(r["privilege_type"]), is_grantable=flag(r["is_grantable"]),
                    implicit=flag(r.get("implicit")))


def database_acls(result: ResultSet) -> tuple[PgDatabaseAclRow, ...]:
    return tuple(PgDatabaseAclRow(datname=text(r["datname"]), datdba=optional_int(r["datdba"]) or 0,
                                  datallowconn=flag(r["datallowconn"]), datistemplate=flag(r["datistemplate"]),
                                  acl=_acl(r))
                 for r in records(result))


def tablespace_acls(result: ResultSet) -> tuple[PgTablespaceAclRow, ...]:
    return tuple(PgTablespaceAclRow(spcname=text(r["spcname"]), acl=_acl(r)) for r in records(result))


def schema_acls(result: ResultSet) -> tuple[PgSchemaAclRow, ...]:
    return tuple(PgSchemaAclRow(nspname=text(r["nspname"]), acl=_acl(r)) for r in records(result))


def relation_acls(result: ResultSet) -> tuple[PgRelationAclRow, ...]:
    return tuple(PgRelationAclRow(nspname=text(r["nspname"]), relname=text(r["relname"]),
                                  relkind=text(r["relkind"]), acl=_acl(r))
                 for r in records(result))


def column_acls(result: ResultSet) -> tuple[PgColumnAclRow, ...]:
    return tuple(PgColumnAclRow(nspname=text(r["nspname"]), relname=text(r["relname"]), attname=text(r["attname"]),
                                acl=_acl(r))
                 for r in records(result))


def routine_signature(signature: str, quoted_schema: str) -> str:
    """`name(argtypes)` without the leading `quote_ident(nspname).` the cast adds outside pg_catalog."""
    prefix = f"{quoted_schema}."
    return signature[len(prefix):] if signature.startswith(prefix) else signature


def routine_acls(result: ResultSet) -> tuple[PgRoutineAclRow, ...]:
    return tuple(PgRoutineAclRow(nspname=text(r["nspname"]),
                                 signature=routine_signature(text(r["signature"]), text(r["quoted_nspname"])),
                                 prokind=text(r["prokind"]), acl=_acl(r))
                 for r in records(result))


def names(result: ResultSet) -> tuple[str, ...]:
    return tuple(text(row[0]) for row in result.rows)


def sizes(names_wanted: Sequence[str], result: ResultSet) -> SizeCollection:
    """NULL (no CONNECT and no pg_read_all_stats privileges) and absent databases have no size."""
    read = {text(row[0]): optional_int(row[1]) for row in result.rows}
    return SizeCollection(sizes=tuple(DatabaseSizeRow(name=n, size_bytes=read.get(n), data_bytes=read.get(n))
                                      for n in names_wanted))


def table_sizes(result: ResultSet) -> tuple[TableSizeRow, ...]:
    return tuple(TableSizeRow(schema_name=text(r["nspname"]), table_name=text(r["relname"]),
                              total_bytes=optional_int(r["total_bytes"]) or 0,
                              data_bytes=optional_int(r["data_bytes"]), index_bytes=optional_int(r["index_bytes"]),
                              row_estimate=optional_int(r["row_estimate"]))
                 for r in records(result))

