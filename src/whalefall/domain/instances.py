"""Kernel: database engines, instance ids and the name/host/endpoint rules shared by every slice."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NewType

from whalefall.domain.errors import AlreadyExistsError, InUseError, InvalidStateError, UnprocessableError

InstanceId = NewType("InstanceId", int)
CredentialId = NewType("CredentialId", int)
TagId = NewType("TagId", int)


class DbEngine(StrEnum):
    """The four supported engines; MariaDB is `mysql` with flavor `mariadb`."""

    MYSQL = "mysql"
    POSTGRESQL = "postgresql"
    SQLSERVER = "sqlserver"
    ORACLE = "oracle"


class Flavor(StrEnum):
    """Detected server flavor."""

    MYSQL = "mysql"
    MARIADB = "mariadb"
    POSTGRESQL = "postgresql"
    SQLSERVER = "sqlserver"
    ORACLE = "oracle"


DEFAULT_PORTS: Final = {
    DbEngine.MYSQL: 3306, DbEngine.POSTGRESQL: 5432, DbEngine.SQLSERVER: 1433, DbEngine.ORACLE: 1521,
}
DEFAULT_DATABASES: Final = {DbEngine.POSTGRESQL: "postgres", DbEngine.SQLSERVER: "master"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_ORACLE_SERVICE = re.compile(r"^[A-Za-z0-9_.$#-]+$")


def has_surrounding_space_or_control(text: str) -> bool:
    """Names are never trimmed: surrounding whitespace or any control character makes them invalid."""
    return text != text.strip() or bool(_CONTROL.search(text))


def normalize_host(host: str) -> str | None:
    """Hostname, dotted IPv4 or IPv6 (brackets optional) → stored form (IPv6 compressed lower-case); None if invalid."""
    if not host or has_surrounding_space_or_control(host) or len(host) > 253:
        return None
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        address = None
    if address is not None:
        return address.compressed.lower()
    if candidate is not host:
        return None
    if re.fullmatch(r"[0-9.]+", host):
        return None
    labels = host.rstrip(".").split(".")
    if all(_HOSTNAME_LABEL.match(label) for label in labels):
        return host
    return None


def valid_database_name(engine: DbEngine, name: str) -> bool:
    """Database (Oracle: service) name to connect to; Oracle allows letters, digits and `_ . - $ #`."""
    if not name or len(name) > 128 or has_surrounding_space_or_control(name):
        return False
    return engine is not DbEngine.ORACLE or bool(_ORACLE_SERVICE.match(name))


@dataclass(frozen=True, slots=True)
class EndpointKey:
    """Uniqueness key of an endpoint: (db_type, lower(host), port, upper(database_name) for Oracle else '')."""

    db_type: DbEngine
    host: str
    port: int
    database: str

    @classmethod
    def of(cls, db_type: DbEngine, host: str, port: int, database_name: str | None) -> EndpointKey:
        database = (database_name or "").upper() if db_type is DbEngine.ORACLE else ""
        return cls(db_type, host.lower(), port, database)


@dataclass(frozen=True, slots=True)
class ConnectionTarget:
    """Everything a connector needs to reach one registered instance; the secret is a SecretText."""

    instance_id: InstanceId
    db_type: DbEngine
    host: str
    port: int
    database_name: str | None
    username: str
    secret: SecretText
    auth_method: str = "password"


class SecretText:
    """A plaintext secret whose text form is `***`; `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretText('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretText) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class InstanceNameTakenError(AlreadyExistsError):
    code = "INSTANCE_NAME_TAKEN"

    def __init__(self, field_path: str = "body.name") -> None:
        super().__init__(field_path, "an instance with this name already exists")


class DuplicateEndpointError(AlreadyExistsError):
    code = "DUPLICATE_ENDPOINT"

    def __init__(self, field_path: str = "body.host") -> None:
        super().__init__(field_path, "another instance already has this endpoint (db_type, host, port, database)")


class CredentialInUseError(InUseError):
    code = "CREDENTIAL_IN_USE"


class TagInUseError(InUseError):
    code = "TAG_IN_USE"


class InstanceInactiveError(InvalidStateError):
    code = "INSTANCE_INACTIVE"
    default_message = "The instance is inactive"


class CredentialMissingError(InvalidStateError):
    code = "CREDENTIAL_MISSING"
    default_message = "The instance has no credential"


class CredentialDbTypeMismatchError(UnprocessableError):
    code = "CREDENTIAL_DB_TYPE_MISMATCH"
    default_message = "The credential is for another db_type"


#: An entry with `/` or `:`, or made of digits and dots only, is read as a CIDR; anything else as a host glob.
_CIDR_LIKE = re.compile(r"^(?:.*[/:].*|[0-9.]+)$")
_HOST_GLOB = re.compile(r"^[A-Za-z0-9*?_-]+(\.[A-Za-z0-9*?_-]+)*\.?$")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundAllowListError(ValueError):
    """`outbound.allow` has entries that are neither a CIDR nor a host glob; `problems` names each one."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class OutboundAllowList:
    """`WHALEFALL_OUTBOUND_ALLOW` (api.md §4.11): comma-separated CIDRs (a bare address is a /32 or /128) and
    host-name globs (`*` and `?`, case-insensitive; `*` also crosses dots, so `*.db.example.com` matches
    `a.b.db.example.com` but not `db.example.com` itself; a lone `*` allows every host).

    A target is allowed when its host text matches a glob, or when its address — for a host name, every address
    the name resolves to — lies inside one of the networks. Resolution is the connector adapter's job (names are
    resolved before the CIDRs are checked); a name that matches no glob is never allowed by the networks without
    being resolved first."""

    networks: tuple[IpNetwork, ...] = ()
    globs: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> OutboundAllowList:
        """Empty entries (doubled or trailing commas) are ignored; every bad entry is reported at once. A CIDR with
        host bits set (`10.0.0.1/8`) is refused rather than silently widened or narrowed."""
        networks: list[IpNetwork] = []
        globs: list[str] = []
        problems: list[str] = []
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            if _CIDR_LIKE.match(entry):
                try:
                    networks.append(ipaddress.ip_network(entry, strict=True))
                except ValueError as exc:
                    problems.append(f"{entry!r} is not a valid CIDR ({exc})")
            elif _HOST_GLOB.match(entry):
                globs.append(entry.lower().rstrip("."))
            else:
                problems.append(f"{entry!r} is neither a CIDR nor a host glob (letters, digits, '-', '_', '.', "
                                "'*', '?')")
        if problems:
            raise OutboundAllowListError(tuple(problems))
        return cls(tuple(networks), tuple(globs))

    def matches_glob(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(name, glob) for glob in self.globs)

    def contains(self, address: str) -> bool:
        """True when the address (IPv4 or IPv6 text) lies inside one of the networks; non-addresses are False."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])    # drop an IPv6 zone id (`fe80::1%eth0`)
        except ValueError:
            return False
        return any(ip.version == network.version and ip in network for network in self.networks)

    def allows_resolved(self, addresses: tuple[str, ...]) -> bool:
        """Every resolved address allowed (the driver may use any of them); no address is never allowed."""
        return bool(addresses) and all(self.contains(address) for address in addresses)
