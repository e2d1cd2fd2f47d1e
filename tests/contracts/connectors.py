"""Connector contract: what every engine connector does, stated once (STYLE.md §11), plus the recorded executor
that feeds SQL Server and Oracle connectors with catalog rows recorded per query (tests/recordings/<engine>/).

Subclasses provide the fixtures `connector` (an open Connector), `normalize` (the engine's normaliser) and
`engine_databases` (names the inventory must contain)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pytest

from whalefall.adapters.connectors._shared import DriverError, Executor, ResultSet
from whalefall.application.ports.connectors import AccountCatalogRows, Connector, ConnectorError
from whalefall.domain.accounts.model import InstanceSnapshot
from whalefall.domain.sessions.backoff import ErrorClass

RECORDINGS: Final = Path(__file__).resolve().parent.parent / "recordings"
Normalize = Callable[[Any], InstanceSnapshot]
#: Statements that only steer the transaction; they are not catalog queries.
CONTROL: Final = frozenset({"BEGIN", "COMMIT", "READ_ONLY", "END", "SEARCH_PATH", "STATS_EXPIRY"})


def decode(value: Any) -> Any:
    """Recording values: JSON scalars, `{"$bytes": "0x…"}` (varbinary) and `{"$datetime": "…"}` (naive, as the
    drivers return DATETIME/DATE columns)."""
    if isinstance(value, dict) and "$bytes" in value:
        return bytes.fromhex(value["$bytes"].removeprefix("0x"))
    if isinstance(value, dict) and "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    return value


def result_set(entry: Mapping[str, Any]) -> ResultSet:
    return ResultSet(tuple(entry["columns"]), tuple(tuple(decode(v) for v in row) for row in entry["rows"]))


def load_recording(engine: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / engine / f"{name}.json").read_text(encoding="utf-8"))
    return data


@dataclass
class RecordedExecutor(Executor):
    """Replays a recording: `queries` by statement label; `per_database` (SQL Server D1–D3) filtered to the
    databases bound in the batch, after checking each appears bracket-quoted in the statement; `errors` raise a
    driver error for a label (optionally only when the SQL contains a marker); `failing_databases` fail every
    batch naming them (error 916). Keeps every statement it received."""

    recording: Mapping[str, Any]
    statements: list[tuple[str, str, tuple[object, ...]]] = field(default_factory=list)

    async def fetch(self, name: str, sql: str, params: Sequence[object] = ()) -> ResultSet:
        self.statements.append((name, sql, tuple(params)))
        error = self.recording.get("errors", {}).get(name)
        if error is not None and error.get("when_sql_contains", "") in sql:
            raise DriverError(ErrorClass(error["class"]), error.get("message", "recorded failure"),
                              driver_code=error.get("driver_code"))
        if name in self.recording.get("per_database", {}):
            return self._batch(name, sql, tuple(str(p) for p in params))
        if name in CONTROL or name not in self.recording["queries"]:
            if name in CONTROL:
                return ResultSet(())
            raise AssertionError(f"no recorded rows for {name}: {sql}")
        return result_set(self.recording["queries"][name])

    def _batch(self, name: str, sql: str, databases: tuple[str, ...]) -> ResultSet:
        for database in databases:
            quoted = "[" + database.replace("]", "]]").replace("%", "%%") + "]"
            assert f"{quoted}.sys." in sql, f"{database!r} is not bracket-quoted in {name}"
            assert database not in re.sub(r"\[[^\]]*(?:\]\][^\]]*)*\]", "", sql), "a name leaked outside brackets"
        failing = set(self.recording.get("failing_databases", ())) & set(databases)
        if failing:
            raise DriverError(ErrorClass.PERMISSION_DENIED,
                              f"The server principal is not able to access the database {sorted(failing)[0]!r}",
                              driver_code=916)
        entry = self.recording["per_database"][name]
        wanted = set(databases)
        rows = [row for row in entry["rows"] if row[0] in wanted]
        return result_set({"columns": entry["columns"], "rows": rows})

    def catalog_statements(self) -> list[str]:
        return [name for name, _, _ in self.statements if name not in CONTROL]


class ConnectorContract:
    """Behaviour every Connector shows."""

    async def test_server_info_is_read_live_and_parsed(self, connector: Connector) -> None:
        info = await connector.server_info()
        assert info.raw
        assert info.version is not None and info.version_major is not None and info.version_minor is not None
        assert info.version.startswith(f"{info.version_major}.{info.version_minor}")

    async def test_catalog_normalises_with_the_collector_visible(self, connector: Connector,
                                                                 normalize: Normalize) -> None:
        rows: AccountCatalogRows = await connector.read_account_catalog(instance_id=7)
        assert rows.meta.instance_id == 7
        assert rows.meta.observed_at.tzinfo is not None
        assert rows.meta.query_count > 0
        snapshot = normalize(rows)
        assert snapshot.principals
        assert any(p.ref.key == rows.meta.collector or p.ref.key.startswith(rows.meta.collector)
                   for p in snapshot.principals)

    async def test_inventory_and_sizes(self, connector: Connector, engine_databases: Sequence[str]) -> None:
        names = await connector.list_databases()
        assert set(engine_databases) <= set(names)
        sizes = await connector.database_sizes([*engine_databases, "no such database ~"])
        by_name = {row.name: row for row in sizes.sizes}
        assert list(by_name) == [*engine_databases, "no such database ~"]
        assert by_name["no such database ~"].size_bytes is None
        for name in engine_databases:
            size = by_name[name].size_bytes
            assert size is None or size >= 0


def assert_catalog_failure(exc: pytest.ExceptionInfo[ConnectorError], error_class: ErrorClass) -> None:
    assert exc.value.error_code == "CATALOG_READ_FAILED"
    assert exc.value.error_class is error_class
