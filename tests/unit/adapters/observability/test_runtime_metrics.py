"""Runtime metrics of operations.md §9 on the registry: records, retries, connector errors, cache requests and the
capacity gauges, asserted on the rendered Prometheus text."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

import pytest

from tests.fakes.sessions import SettableClock
from whalefall.adapters.connectors._threads import DriverThreads
from whalefall.adapters.connectors.registry import ConnectorRegistry, _Counted
from whalefall.adapters.inmemory.cache import InMemoryCache
from whalefall.adapters.observability.metrics import (
    CapacityGauges,
    CountingCache,
    MetricsRegistry,
    RegistryConnectorMetrics,
    RegistryRecordMetrics,
)
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.cache import Cache, CacheUnavailableError
from whalefall.application.ports.connectors import Connector, ConnectorError, ConnectorTimeouts
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText
from whalefall.domain.sessions.backoff import ErrorClass


def test_records_finished_duration_and_retries_use_the_spec_names_and_labels() -> None:
    registry = MetricsRegistry()
    metrics = RegistryRecordMetrics(registry)
    metrics.record_finished(kind="accounts_sync", status="failed", error_class="UNREACHABLE", db_type="mysql",
                            duration_s=3.0)
    metrics.record_finished(kind="accounts_sync", status="completed", error_class=None, db_type="mysql",
                            duration_s=0.2)
    metrics.record_finished(kind="capacity_aggregation", status="skipped", error_class=None, db_type=None,
                            duration_s=None)
    metrics.record_retried(kind="accounts_sync", error_class="TIMEOUT")
    metrics.record_retried(kind="accounts_sync", error_class="TIMEOUT")
    text = registry.render()
    assert "# TYPE whalefall_records_finished_total counter" in text
    assert ('whalefall_records_finished_total{kind="accounts_sync",status="failed",error_class="UNREACHABLE"} 1.0'
            in text)
    assert 'whalefall_records_finished_total{kind="accounts_sync",status="completed",error_class="none"} 1.0' in text
    assert ('whalefall_records_finished_total{kind="capacity_aggregation",status="skipped",error_class="none"} 1.0'
            in text)
    assert "# TYPE whalefall_record_duration_seconds histogram" in text
    assert 'whalefall_record_duration_seconds_count{kind="accounts_sync",db_type="mysql"} 2.0' in text
    assert 'whalefall_record_duration_seconds_sum{kind="accounts_sync",db_type="mysql"} 3.2' in text
    assert 'whalefall_record_duration_seconds_bucket{kind="accounts_sync",db_type="mysql",le="0.25"} 1.0' in text
    assert 'kind="capacity_aggregation",db_type' not in text, "a record skipped without running has no duration"
    assert 'whalefall_retries_total{kind="accounts_sync",error_class="TIMEOUT"} 2.0' in text


class _Opened(AbstractAsyncContextManager[Connector]):
    """A connector block whose entry raises `on_enter` (if any); records the exit it saw."""

    def __init__(self, on_enter: ConnectorError | None = None) -> None:
        self._on_enter = on_enter
        self.exited_with: object = "never"

    async def __aenter__(self) -> Connector:
        if self._on_enter is not None:
            raise self._on_enter
        connector: Any = object()
        return connector  # the block under test never calls it

    async def __aexit__(self, *exc_info: Any) -> None:
        self.exited_with = exc_info[1]


async def test_connector_errors_are_counted_once_on_entry_or_in_the_block() -> None:
    registry = MetricsRegistry()
    metrics = RegistryConnectorMetrics(registry)
    with pytest.raises(ConnectorError):
        async with _Counted(_Opened(ConnectorError(ErrorClass.UNREACHABLE)), DbEngine.MYSQL, metrics):
            pytest.fail("entry failed")
    inner = _Opened()
    with pytest.raises(ConnectorError):
        async with _Counted(inner, DbEngine.MYSQL, metrics):
            raise ConnectorError(ErrorClass.UNREACHABLE)
    assert isinstance(inner.exited_with, ConnectorError), "the inner block still sees the error to close itself"
    with pytest.raises(ValueError, match="not a connector error"):
        async with _Counted(_Opened(), DbEngine.ORACLE, metrics):
            raise ValueError("not a connector error")
    async with _Counted(_Opened(), DbEngine.ORACLE, metrics):
        pass
    text = registry.render()
    assert 'whalefall_connector_errors_total{db_type="mysql",error_class="UNREACHABLE"} 2.0' in text
    assert 'db_type="oracle"' not in text, "other exceptions and clean blocks count nothing"


async def test_the_registry_counts_a_refused_target_by_engine() -> None:
    registry = MetricsRegistry()
    connectors = ConnectorRegistry(clock=SettableClock(), threads=DriverThreads(1),
                                   metrics=RegistryConnectorMetrics(registry))
    target = ConnectionTarget(InstanceId(1), DbEngine.POSTGRESQL, "192.0.2.1", 1, "db", "CORP\\svc",
                              SecretText("pw"), auth_method="windows")
    with pytest.raises(ConnectorError):
        async with connectors.open(target, ConnectorTimeouts(connect_s=0.1)):
            pytest.fail("must not connect")
    assert ('whalefall_connector_errors_total{db_type="postgresql",error_class="CONFIG_ERROR"} 1.0'
            in registry.render())


class _BrokenCache(Cache):
    async def get(self, key: str) -> str | None:
        raise CacheUnavailableError()

    async def set(self, key: str, value: str, *, ttl_s: int) -> None:
        raise CacheUnavailableError()

    async def delete(self, *keys: str) -> None:
        raise CacheUnavailableError()


async def test_cache_requests_count_hits_misses_and_errors_by_cache() -> None:
    registry = MetricsRegistry()
    cache = CountingCache(InMemoryCache(), registry)
    assert await cache.get("dashboard:v1:runs") is None
    await cache.set("dashboard:v1:runs", "{}", ttl_s=60)
    assert await cache.get("dashboard:v1:runs") == "{}"
    assert await cache.get("dashboard:v1:runs") == "{}"
    broken = CountingCache(_BrokenCache(), registry)
    for call in (broken.get("dashboard:v1:jobs"), broken.set("dashboard:v1:jobs", "x", ttl_s=1),
                 broken.delete("dashboard:v1:jobs", "dashboard:v1:runs")):
        with pytest.raises(CacheUnavailableError):
            await call
    text = registry.render()
    assert 'whalefall_cache_requests_total{cache="dashboard",result="hit"} 2.0' in text
    assert 'whalefall_cache_requests_total{cache="dashboard",result="miss"} 1.0' in text
    assert 'whalefall_cache_requests_total{cache="dashboard",result="error"} 3.0' in text, \
        "get, set and one delete of two keys of the same cache"


class _Figures:
    def __init__(self, figures: Mapping[str, object]) -> None:
        self.figures = figures
        self.days: list[date] = []
        self.fail = False

    async def capacity(self, *, today: date) -> Mapping[str, object]:
        self.days.append(today)
        if self.fail:
            raise StoreUnavailableError()
        return self.figures


async def test_capacity_gauges_follow_the_dashboard_figures_with_a_short_cache() -> None:
    registry = MetricsRegistry()
    ticks = [100.0]
    gauges = CapacityGauges(registry, ttl_s=15, monotonic=lambda: ticks[0])
    text = registry.render()
    assert "whalefall_capacity_fleet_bytes 0.0" in text, "exposed before the first scrape"
    reader = _Figures({"fleet_total_bytes": 5_000_000_000, "fresh": 3, "stale": 2, "never": 4,
                       "incomplete_instances": 1, "last_complete_day": "2027-02-28"})
    await gauges.refresh(reader, date(2027, 3, 1))
    text = registry.render()
    assert "# TYPE whalefall_capacity_fleet_bytes gauge" in text
    assert "whalefall_capacity_fleet_bytes 5000000000.0" in text
    assert "whalefall_capacity_stale_instances 2.0" in text, "never-collected instances are not stale"
    assert "whalefall_capacity_incomplete_instances 1.0" in text
    reader.figures = {"fleet_total_bytes": 1, "stale": 0, "incomplete_instances": 0}
    ticks[0] = 110.0
    await gauges.refresh(reader, date(2027, 3, 1))
    assert "whalefall_capacity_fleet_bytes 5000000000.0" in registry.render(), "cached for 15 s"
    ticks[0] = 116.0
    reader.fail = True
    await gauges.refresh(reader, date(2027, 3, 2))
    assert "whalefall_capacity_fleet_bytes 5000000000.0" in registry.render(), "a failing read keeps the values"
    reader.fail = False
    await gauges.refresh(reader, date(2027, 3, 2))
    assert "whalefall_capacity_fleet_bytes 1.0" in registry.render()
    assert reader.days == [date(2027, 3, 1), date(2027, 3, 2), date(2027, 3, 2)]
