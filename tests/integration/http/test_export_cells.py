"""API legacy defect 38 (export cells and file names in local time; human size labels): across the instance,
audit, ledger and capacity exports, every instant cell is RFC 3339 UTC ending in `Z`, every size column is a
plain integer of bytes, and every file name carries a UTC stamp. The business calendar is set to a non-UTC zone
so that a local-time regression would show."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import pytest

from tests.integration.capacity.helpers import add_instance, insert_samples
from tests.support.http_client import Api, data_of, make_settings, running_api
from tests.support.stores import Store
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.capacity.aggregate_capacity import AggregateCapacity, AggregateCapacityInput
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import DatabaseSample, InstanceSample, PeriodType, last_complete_window
from whalefall.domain.capacity.ledger import LedgerEntry
from whalefall.domain.identity.roles import Role

EXPORTS: Final = ("/api/v1/instances/exports", "/api/v1/audit-events/exports", "/api/v1/databases/exports",
                  "/api/v1/capacity/databases/exports?period_type=weekly",
                  "/api/v1/capacity/instances/exports?period_type=weekly")
_INSTANT_LIKE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_UTC_INSTANT: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture
async def shanghai_api(store: Store, tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path / "data", store.url, WHALEFALL_TIMEZONE="Asia/Shanghai")
    async with running_api(settings) as running:
        yield running


async def _seed(api: Api) -> None:
    database = await api.container.get(Database)
    today: date = (await api.container.get(Clock)).now().date()
    week = last_complete_window(PeriodType.WEEKLY, today)
    instance = await add_instance(database, "wf-w2-export")
    days = [week.start + timedelta(days=k) for k in range(7)]
    await insert_samples(database, [DatabaseSample(instance, "shop", d, 1_048_576 + k) for k, d in enumerate(days)],
                         [InstanceSample(instance, d, 1_048_576 + k, 1) for k, d in enumerate(days)])
    uow = SqlAlchemyUnitOfWork(database)
    try:
        await SqlAlchemyCapacityWriter(uow).save_ledger(instance, [LedgerEntry(
            name="shop", is_system=False, is_excluded=False, status="active", first_seen_on=days[0],
            last_seen_on=days[-1])])
        await uow.commit()
    finally:
        await uow.close()
    async with api.container() as scope:
        await (await scope.get(AggregateCapacity)).execute(AggregateCapacityInput(
            actor=Actor.system("wf_w2_test"), period_type=PeriodType.WEEKLY, windows=(week,)))
    # An audited write through the API, so the audit export has a row with an instant.
    data_of(await api.client.post("/api/v1/tags", headers=await api.headers(Role.ADMIN),
                                  json={"name": "wf-w2-tag", "display_name": "T", "category": "env"}))


async def test_exported_instants_are_utc_z_and_sizes_are_integer_bytes(shanghai_api: Api) -> None:
    """Defect 38."""
    api = shanghai_api
    await _seed(api)
    headers = await api.headers(Role.ADMIN)
    instants = sizes = 0
    for path in EXPORTS:
        response = await api.client.get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.text}"
        filename = re.search(r'filename="([^"]+)"', response.headers["content-disposition"])
        assert filename is not None and re.search(r"_\d{8}T\d{6}Z\.csv$", filename.group(1)), filename
        header, *rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
        assert rows, f"{path} exported no row"
        for row in rows:
            for column, cell in zip(header, row, strict=True):
                if cell and (_INSTANT_LIKE.match(cell) or column.endswith("_at") or column == "ts"):
                    assert _UTC_INSTANT.match(cell), f"{path} {column}={cell!r}"
                    instants += 1
                if column.endswith("_bytes") and cell:
                    assert cell.isdigit(), f"{path} {column}={cell!r}"
                    sizes += 1
    assert instants >= 3 and sizes >= 3
