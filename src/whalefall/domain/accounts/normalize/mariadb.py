"""MariaDB 10.4+ catalog rows → canonical snapshot, with the server's own decoding of the `access` mask (§2.2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from whalefall.domain.accounts.model import AttrValue, InstanceSnapshot, PrincipalKind, PrincipalRef
from whalefall.domain.accounts.normalize.builder import SnapshotBuilder, base_attributes, version_tuple
from whalefall.domain.accounts.normalize.mysql import account_key, add_object_grants, empty_password
from whalefall.domain.accounts.rows.mysql import MariaDbCatalogRows, MariaDbGlobalPrivRow
from whalefall.domain.instances import DbEngine, Flavor
from whalefall.domain.privileges.names import Scope

ALL_BITS: Final = 2**64 - 1

#: Bits 0–28 follow the static column order of §2.1; bit 20 is renamed BINLOG MONITOR from 10.5.2.
_BITS: Final = (
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "RELOAD", "SHUTDOWN", "PROCESS", "FILE",
    "GRANT OPTION", "REFERENCES", "INDEX", "ALTER", "SHOW DATABASES", "SUPER", "CREATE TEMPORARY TABLES",
    "LOCK TABLES", "EXECUTE", "REPLICATION SLAVE", "REPLICATION CLIENT", "CREATE VIEW", "SHOW VIEW",
    "CREATE ROUTINE", "ALTER ROUTINE", "CREATE USER", "EVENT", "TRIGGER", "CREATE TABLESPACE", "DELETE HISTORY",
    "SET USER", "FEDERATED ADMIN", "CONNECTION ADMIN", "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN",
    "REPLICATION MASTER ADMIN", "BINLOG ADMIN", "BINLOG REPLAY", "SLAVE MONITOR", "SHOW CREATE ROUTINE",
)
_SUPER, _REPL_SLAVE, _REPL_CLIENT, _REPL_SLAVE_ADMIN = 15, 19, 20, 34

#: Highest bit known per version id (MariaDB `version_id` form: 10.5.2 → 100502).
_BIT_LIMITS: Final = ((110300, 39), (100508, 38), (100502, 37), (100304, 29), (0, 28))
_LATEST_KNOWN: Final = 110300

#: Privileges split from SUPER in 10.5.2; rows written before keep them through SUPER.
_SPLIT_FROM_SUPER: Final = ("SET USER", "FEDERATED ADMIN", "CONNECTION ADMIN", "READ_ONLY ADMIN",
                            "REPLICATION SLAVE ADMIN", "BINLOG ADMIN", "BINLOG REPLAY")

_SSL_TYPES: Final = MappingProxyType({0: "", 1: "ANY", 2: "X509", 3: "SPECIFIED"})


def _version_id(text: str) -> int:
    major, minor, patch = version_tuple(text)
    return major * 10000 + minor * 100 + patch


def _highest_bit(version_id: int) -> int:
    return next(bit for since, bit in _BIT_LIMITS if version_id >= since)


@dataclass(frozen=True, slots=True)
class DecodedAccess:
    privileges: tuple[str, ...]
    warnings: tuple[str, ...]


def decode_access(access: int, *, row_version_id: int | None, server_version_id: int) -> DecodedAccess:
    """Global privileges of a `global_priv.access` value as the server decodes the row when loading it.

    2^64−1 (the install script's `root@localhost`) is every global privilege of the server version; a row
    with bits outside its `version_id`'s mask holds nothing (the server ignores it); pre-10.5.2 rows with SUPER
    also hold what 10.5.2 split from SUPER; unknown bits beyond what we know are kept as `BIT_<n>`.
    """
    binlog_monitor = server_version_id >= 100502
    names = list(_BITS)
    if binlog_monitor:
        names[_REPL_CLIENT] = "BINLOG MONITOR"
    if access == ALL_BITS:
        return DecodedAccess(tuple(names[: _highest_bit(server_version_id) + 1]), ())
    # Rows without `version_id` were written by 10.4–10.5.1 (the oldest supported), which knew DELETE HISTORY.
    row_version = row_version_id if row_version_id is not None else 100400
    limit = _highest_bit(row_version)
    if row_version < _LATEST_KNOWN and access >> (limit + 1):
        return DecodedAccess((), (f"access {access} has bits outside the mask of version_id {row_version_id}; "
                                  "the server ignores the row's global privileges",))
    bits = {n for n in range(access.bit_length()) if access >> n & 1}
    held = [names[n] if n < len(names) else f"BIT_{n}" for n in sorted(bits)]
    warnings = tuple(f"unknown access bit {n} kept as BIT_{n}" for n in sorted(bits) if n >= len(names))
    if row_version < 100502 and binlog_monitor:
        if _SUPER in bits:
            held.extend(_SPLIT_FROM_SUPER)
            if _REPL_SLAVE in bits:
                held.append("REPLICATION MASTER ADMIN")
        if server_version_id >= 100508 and bits & {_REPL_SLAVE, _REPL_CLIENT}:
            held.append("SLAVE MONITOR")
    elif 100502 <= row_version < 100509 and _REPL_SLAVE_ADMIN in bits and server_version_id >= 100508:
        held.append("SLAVE MONITOR")
    return DecodedAccess(tuple(dict.fromkeys(held)), warnings)


def _ref(u: MariaDbGlobalPrivRow) -> PrincipalRef:
    if u.is_role and u.host == "" and u.user == "PUBLIC":
        return PrincipalRef.public()
    if u.is_role:
        return PrincipalRef.of(PrincipalKind.ROLE, u.user)
    return PrincipalRef.of(PrincipalKind.USER, account_key(u.user, u.host))


def normalize_mariadb(rows: MariaDbCatalogRows) -> InstanceSnapshot:
    """MariaDB rows → snapshot (accounts.md §2.2): `is_role` decides the kind, the PUBLIC role (10.11+) is the
    pseudo-principal, `default_role` marks its edge, `password_last_changed = 0` means expired.

    Raises CatalogVisibilityError when Q1 is empty or lacks the collector (`CURRENT_USER()`).
    """
    server_version_id = _version_id(rows.server.version)
    builder = SnapshotBuilder(engine=DbEngine.MYSQL, flavor=Flavor.MARIADB, meta=rows.meta,
                              server_version=rows.server.version,
                              settings={"default_password_lifetime": rows.server.default_password_lifetime})
    refs: dict[tuple[str, str], PrincipalRef] = {}
    for u in rows.users:
        ref = _ref(u)
        refs[(u.user, u.host)] = ref
        builder.add(ref, is_account=ref.kind is not PrincipalKind.PUBLIC, attributes=_attributes(u))
        decoded = decode_access(u.access or 0, row_version_id=u.version_id, server_version_id=server_version_id)
        for message in decoded.warnings:
            builder.warn("access_bits", f"{account_key(u.user, u.host)}: {message}")
        for name in decoded.privileges:
            builder.grant(ref, name, Scope.GLOBAL, source_table="mysql.global_priv")

    def resolve(user: str, host: str) -> PrincipalRef | None:
        return refs.get((user, host))

    add_object_grants(builder, resolve, db_privs=rows.db_privs, table_privs=rows.table_privs,
                      column_privs=rows.column_privs, proc_privs=rows.proc_privs, proxy_privs=rows.proxy_privs)
    defaults = {(u.user, u.host): u.default_role for u in rows.users if u.default_role}
    for m in rows.roles_mapping:
        builder.edge(resolve(m.user, m.host), resolve(m.role, ""), source_table="mysql.roles_mapping",
                     admin_option=m.admin_option, default=defaults.get((m.user, m.host)) == m.role)
    user, _, host = rows.meta.collector.rpartition("@")
    return builder.build(refs.get((user, host)))


def _attributes(u: MariaDbGlobalPrivRow) -> dict[str, AttrValue]:
    attributes = base_attributes()
    is_role = u.is_role
    changed = u.password_last_changed
    locked = bool(u.account_locked) and not is_role
    attributes.update({
        "login_capable": not is_role,
        "locked": locked,
        "lock_reasons": ("account_locked",) if locked else (),
        "password_expired": changed == 0 and not is_role,
        "password_changed_at": datetime.fromtimestamp(changed, UTC) if changed else None,
        # -1 (or no key) = the instance default applies.
        "password_lifetime_days": None if u.password_lifetime in (None, -1) else u.password_lifetime,
        "auth_method": u.plugin,
        "has_empty_password": None if is_role else empty_password(u.plugin, u.empty_authentication_string),
        "connection_limit": u.max_user_connections or None,
        "host": u.host,
        "ssl_type": _SSL_TYPES.get(u.ssl_type or 0, str(u.ssl_type)),
        "max_questions": u.max_questions or 0,
        "max_updates": u.max_updates or 0,
        "max_connections": u.max_connections or 0,
        "max_statement_time": u.max_statement_time or 0.0,
        "default_role": u.default_role or None,
        "kind_inferred": False,
    })
    # `IDENTIFIED VIA a OR b`: the `{}` element of auth_or stands for the top-level plugin, so the account's
    # methods are that plugin plus the others, never the top-level plugin alone.
    others = [str(p) for p in (json.loads(u.auth_or_plugins_json) if u.auth_or_plugins_json else []) if p]
    if others:
        attributes["auth_methods"] = tuple(dict.fromkeys([u.plugin or "", *others]))
    return attributes
