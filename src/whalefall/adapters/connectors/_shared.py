"""Driver-neutral pieces every engine connector uses: result sets and the executor seam, deadlines, error
construction with redaction, version parsing and value conversion."""

from __future__ import annotations

import asyncio
import re
from abc import abstractmethod
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

from whalefall.adapters.connectors._threads import DriverThreads
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import ConnectorError, ConnectorTimeouts
from whalefall.domain.instances import SecretText
from whalefall.domain.sessions.backoff import ErrorClass

T = TypeVar("T")

#: Added to every driver timeout for the outer asyncio deadline (capacity.md §2.1).
OUTER_MARGIN_S: Final = 5.0
CATALOG_READ_FAILED: Final = "CATALOG_READ_FAILED"
COLLECTOR_PRIVILEGES_MISSING: Final = "COLLECTOR_PRIVILEGES_MISSING"
_MAX_MESSAGE: Final = 500
_VERSION: Final = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class ResultSet:
    """Column names and rows exactly as the driver returned them (also the shape of a recording)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...] = ()

    def records(self) -> Iterator[Mapping[str, object]]:
        """Each row as a mapping keyed by the column names as returned."""
        for row in self.rows:
            yield dict(zip(self.columns, row, strict=True))


class Executor(Protocol):
    """The connector's seam to its driver: one call per catalog statement. Recorded executors replay rows of a
    real server (tests/recordings); the driver-backed one bounds each call and translates driver errors."""

    @abstractmethod
    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        """Run one read statement (`name` is its catalog label, e.g. `Q1`); raises ConnectorError."""


@dataclass(slots=True)
class QueryCounter:
    """Counts catalog statements sent for `CatalogMeta.query_count` (accounts.md §2.0)."""

    executor: Executor
    count: int = 0
    names: list[str] = field(default_factory=list)

    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        self.count += 1
        self.names.append(name)
        return await self.executor.fetch(name, sql, params)


class DriverError(ConnectorError):
    """A ConnectorError that keeps the driver's own error number (`1143`, `ORA-00904`, `916`), so an engine module
    can pick a fallback statement; outside the adapter it is just a ConnectorError."""

    def __init__(self, error_class: ErrorClass, message: str, *, driver_code: int | str | None,
                 error_code: str | None = None) -> None:
        super().__init__(error_class, message, error_code=error_code)
        self.driver_code = driver_code


def statement_deadline(timeouts: ConnectorTimeouts) -> float:
    return timeouts.statement_s + OUTER_MARGIN_S


def connect_deadline(timeouts: ConnectorTimeouts) -> float:
    return timeouts.connect_s + OUTER_MARGIN_S


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await under an outer deadline; its expiry is the connector error TIMEOUT."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError as exc:
        raise ConnectorError(ErrorClass.TIMEOUT, f"{what} did not finish within {seconds:g} s") from exc


def redact(text: str, secret: SecretText | None) -> str:
    """Driver text without the password, on one line, bounded in length."""
    if secret is not None:
        value = secret.reveal()
        if value:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def connector_error(error_class: ErrorClass, detail: str, *, secret: SecretText | None,
                    driver_code: int | str | None = None, error_code: str | None = None) -> DriverError:
    return DriverError(error_class, redact(detail, secret), driver_code=driver_code, error_code=error_code)


def catalog_failure(exc: ConnectorError) -> ConnectorError:
    """A failed required catalog query: code CATALOG_READ_FAILED, the taxonomy class kept for retries."""
    if exc.error_code in {CATALOG_READ_FAILED, COLLECTOR_PRIVILEGES_MISSING}:
        return exc
    return DriverError(exc.error_class, exc.message, driver_code=getattr(exc, "driver_code", None),
                       error_code=CATALOG_READ_FAILED)


def first_version(text: str) -> tuple[str | None, int | None, int | None]:
    """(`x.y.z` or `x.y`, major, minor) of the first version number in a banner; Nones when there is none."""
    match = _VERSION.search(text)
    if match is None:
        return None, None, None
    return match.group(0), int(match.group(1)), int(match.group(2))


def flag(value: object) -> bool:
    """Catalog booleans: `Y`/`N`, `YES`/`NO`, `true`/`false`, 1/0, bit(1) bytes; NULL is false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, bytes):
        return any(value)
    text = str(value).strip().upper()
    return text in {"Y", "YES", "TRUE", "1", "T"}


def optional_flag(value: object) -> bool | None:
    return None if value is None else flag(value)


def optional_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    raw = optional_text(value) or ""
    try:
        return int(raw)     # exact: MariaDB's access mask reaches 2^64 - 1, beyond a float's precision
    except ValueError:
        return int(float(raw))


def optional_float(value: object) -> float | None:
    if value is None or value == "":
        return None
    return float(str(value)) if not isinstance(value, int | float) else float(value)


def optional_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def text(value: object) -> str:
    """A name column: bytes are decoded as UTF-8, everything else kept as the driver returned it."""
    return optional_text(value) or ""


def utc_datetime(value: object) -> datetime | None:
    """A timestamp column as aware UTC; naive values are read as UTC (the catalog-row convention)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PG_OBJECT_GRANT_LEVELS: Final = ("off", "schemas", "tables", "full")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorOptions:
    """Engine-specific collection settings (`postgresql.object_grants`, `capacity.mysql.include_non_innodb`) and
    the per-instance connection bounds of accounts.md §2.3 and capacity.md §3.4."""

    pg_object_grants: str = "schemas"
    mysql_include_non_innodb: bool = True
    pg_account_connections: int = 4
    per_database_size_connections: int = 2

    def __post_init__(self) -> None:
        if self.pg_object_grants not in PG_OBJECT_GRANT_LEVELS:
            raise ValueError(f"postgresql.object_grants must be one of {', '.join(PG_OBJECT_GRANT_LEVELS)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorContext:
    """What every engine's `open_connector` receives besides the target: the shared driver pool, the clock that
    stamps `observed_at`, and the options."""

    threads: DriverThreads
    clock: Clock
    options: ConnectorOptions = field(default_factory=ConnectorOptions)
