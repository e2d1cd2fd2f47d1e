"""A `capacity_collection` session run by the embedded worker with the real kind registry (WORK_FACTORIES):
records end `completed` after their data commit, or `skipped` NOTHING_TO_DO (operations.md §1.3)."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from dishka.integrations.taskiq import TaskiqProvider
from sqlalchemy import update

from tests.fakes.account_sync import PlainSecretCipher
from tests.fakes.capacity import CapacityConnectorFactory, FakeCapacityServer
from tests.integration.worker.test_worker import wait_terminal
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.application.capacity.start_capacity_collection import (
    StartCapacityCollection,
    StartCapacityCollectionInput,
)
from whalefall.application.ports.connectors import ConnectorFactory, TableSizeRow
from whalefall.application.ports.scheduler import LaunchRequest, SessionLauncher
from whalefall.application.ports.security import SecretCipher
from whalefall.application.ports.sessions import SessionStore
from whalefall.application.scheduler.defaults import BUILTIN_JOBS
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus, SessionTrigger
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker


class ScriptedEngines(Provider):
    def __init__(self, connectors: CapacityConnectorFactory) -> None:
        super().__init__()
        self._connectors = connectors

    @provide(scope=Scope.APP, override=True)
    def connectors(self) -> ConnectorFactory:
        return self._connectors

    @provide(scope=Scope.APP, override=True)
    def cipher(self) -> SecretCipher:
        return PlainSecretCipher()


async def test_fleet_collection_through_the_worker(settings: Settings) -> None:
    connectors = CapacityConnectorFactory()
    filtered = Settings.from_raw({**settings.raw, "capacity.filters_postgresql_exclude_patterns": "tmp*"})
    container = make_container(filtered, WorkerProvider(), TaskiqProvider(), ScriptedEngines(connectors))
    try:
        harness = SyncHarness(await container.get(Database), cipher=PlainSecretCipher())
        sized = await harness.add_instance("sized")
        empty = await harness.add_instance("empty")
        connectors.serve(sized, FakeCapacityServer(databases={"postgres": 100, "app": 900}))
        connectors.serve(empty, FakeCapacityServer(databases={"tmp1": 5}))
        async with embedded_worker(container) as attached:
            assert attached
            async with container() as scope:
                session = await (await scope.get(StartCapacityCollection)).execute(
                    StartCapacityCollectionInput(actor=Actor.system("test")))
            final = await wait_terminal(container, session.id)
        assert (final.status, final.succeeded, final.skipped, final.failed) == (SessionStatus.COMPLETED, 1, 1, 0)
        async with container() as scope:
            records = (await (await scope.get(SessionStore)).list_records(session.id, PageRequest(1, 10))).items
        by_instance = {r.instance_id: r for r in records}
        assert by_instance[empty].error_code == "NOTHING_TO_DO"
        totals = await harness.rows("SELECT instance_id, total_bytes, session_id FROM instance_size_samples")
        assert {(r["instance_id"], r["total_bytes"]) for r in totals} == {(sized, 1000), (empty, 0)}
        assert {str(r["session_id"]) for r in totals} == {session.id}
    finally:
        await container.close()


async def test_the_nightly_job_launch_collects_flagged_tables(settings: Settings) -> None:
    """The built-in `capacity_collection` job (03:00) opens a fleet session through the scheduler's launcher; the
    worker collects every active instance, adding table sizes only for instances flagged `collect_table_sizes`."""
    connectors = CapacityConnectorFactory()
    container = make_container(settings, WorkerProvider(), TaskiqProvider(), ScriptedEngines(connectors))
    try:
        database = await container.get(Database)
        harness = SyncHarness(database, cipher=PlainSecretCipher())
        flagged = await harness.add_instance("flagged")
        plain = await harness.add_instance("plain")
        await harness.add_instance("asleep", is_active=False)
        async with database.connect() as connection:
            await connection.execute(update(instances).where(instances.c.id == flagged).values(
                collect_table_sizes=True))
            await connection.commit()
        tables = {"app": [TableSizeRow(schema_name="public", table_name="t", total_bytes=64)]}
        connectors.serve(flagged, FakeCapacityServer(databases={"postgres": 1, "app": 2}, tables=tables))
        connectors.serve(plain, FakeCapacityServer(databases={"postgres": 1, "app": 2}, tables=tables))
        async with embedded_worker(container) as attached:
            assert attached
            async with container() as scope:
                launched = await (await scope.get(SessionLauncher)).launch(LaunchRequest(
                    kind=SessionKind.CAPACITY_COLLECTION, trigger=SessionTrigger.SCHEDULED,
                    params=dict(BUILTIN_JOBS["capacity_collection"].params_copy()), job_id="capacity_collection"))
            final = await wait_terminal(container, launched.session_id)
        assert (final.status, final.total, final.succeeded) == (SessionStatus.COMPLETED, 2, 2)
        snapshots = await harness.rows("SELECT instance_id, table_name FROM table_size_snapshots")
        assert snapshots == [{"instance_id": flagged, "table_name": "t"}]
    finally:
        await container.close()
