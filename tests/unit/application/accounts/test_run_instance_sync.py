"""RunInstanceSync over a scripted catalog: atomic apply, zero-write re-sync, lifecycle, counters (accounts.md §10)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
from sqlalchemy import text

from tests.fakes.account_sync import FakePgServer
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.accounts.writer import SqlAlchemyLedgerWriter
from whalefall.application.accounts.run_instance_sync import MAX_WARNINGS, AccountFilterSettings
from whalefall.application.ports.connectors import ConnectorError
from whalefall.application.sessions.work import RecordCancelledError
from whalefall.domain.accounts.filters import AccountFilter
from whalefall.domain.accounts.model import SnapshotWarning
from whalefall.domain.accounts.normalize import normalize_postgresql
from whalefall.domain.instances import DbEngine
from whalefall.domain.sessions.backoff import ErrorClass

T1, T2, T3 = T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0 + timedelta(hours=3)


def server(instance_id: int, accounts: int = 3) -> FakePgServer:
    pg = FakePgServer(instance_id)
    pg.add_role("app_ro")
    pg.grant("app_ro", "SELECT", "orders")
    for i in range(accounts):
        pg.add_role(f"user{i:05d}", login=True)
        pg.grant_role("app_ro", f"user{i:05d}")
        pg.grant(f"user{i:05d}", "INSERT", f"t{i % 7}")
    return pg


async def test_first_sync_writes_ledger_and_counters(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    result = await harness.sync(instance, lambda: pg.rows(T1), record_id=41)

    assert result.skipped_code is None
    assert result.counters["accounts_added"] == 6  # 3 users + app_ro + postgres + whalefall
    assert result.counters["accounts_reactivated"] == 0
    assert result.counters["query_count"] == 7
    assert harness.last_probe is not None and harness.last_probe.fenced == 1
    changes = await harness.rows("SELECT type, sync_record_id, session_id FROM principal_changes")
    assert {c["type"] for c in changes} == {"added"}
    assert {c["sync_record_id"] for c in changes} == {41}
    assert await harness.scalar("SELECT accounts_synced_at FROM instances WHERE id = :i", i=instance) is not None
    open_grants = await harness.scalar("SELECT count(*) FROM grant_intervals WHERE valid_to IS NULL")
    assert open_grants == 4 + 1  # 3 INSERT grants + app_ro SELECT + postgres CONNECT on app
    added = result.details["added"]
    assert isinstance(added, list)
    postgres = next(a for a in added if a["key"] == "postgres")
    assert "SUPERUSER" in postgres["capabilities"] and postgres["account_id"] is not None
    assert "user00000" not in str(result.counters)


async def test_unchanged_resync_writes_nothing_to_the_ledger(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance, accounts=50)
    await harness.sync(instance, lambda: pg.rows(T1))
    changes = await harness.scalar("SELECT count(*) FROM principal_changes")
    harness.reset_statements()

    result = await harness.sync(instance, lambda: pg.rows(T2))

    assert harness.ledger_writes() == []
    assert any(s.lstrip().upper().startswith("UPDATE INSTANCES") for s in harness.statements)
    assert result.counters["accounts_unchanged"] == 53
    assert result.counters["accounts_changed"] == 0
    assert await harness.scalar("SELECT count(*) FROM principal_changes") == changes


async def test_query_count_does_not_depend_on_accounts(harness: SyncHarness) -> None:
    small, large = await harness.add_instance("small"), await harness.add_instance("large")
    few, many = server(small, 10), server(large, 2000)
    first = await harness.sync(small, lambda: few.rows(T1))
    second = await harness.sync(large, lambda: many.rows(T1))
    assert first.counters["query_count"] == second.counters["query_count"]


async def test_failure_while_writing_changes_leaves_the_store_byte_identical(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    await harness.sync(instance, lambda: pg.rows(T1))
    before = await harness.dump()
    pg.revoke("user00001", "INSERT", "t1")
    pg.drop_role("user00002")
    pg.add_role("newcomer", login=True)

    with mock.patch.object(SqlAlchemyLedgerWriter, "_insert_changes", side_effect=RuntimeError("disk full")), \
            pytest.raises(RuntimeError):
        await harness.sync(instance, lambda: pg.rows(T2))

    assert await harness.dump() == before


async def test_catalog_failure_is_an_instance_failure_not_a_revocation(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    await harness.sync(instance, lambda: pg.rows(T1))
    before = await harness.dump()

    def broken() -> object:
        raise ConnectorError(ErrorClass.PERMISSION_DENIED, "mysql.db denied", error_code="CATALOG_READ_FAILED")

    with pytest.raises(ConnectorError):
        await harness.sync(instance, broken)  # type: ignore[arg-type]
    assert await harness.dump() == before


async def test_visibility_guard_fails_without_deactivating(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    await harness.sync(instance, lambda: pg.rows(T1))
    before = await harness.dump()
    blind = replace(pg.rows(T2), roles=())

    with pytest.raises(ConnectorError) as caught:
        await harness.sync(instance, lambda: blind)
    assert caught.value.error_code == "CATALOG_VISIBILITY"
    assert caught.value.error_class is ErrorClass.PERMISSION_DENIED
    assert await harness.dump() == before


async def test_vanish_and_return_reuse_the_principal_id(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    await harness.sync(instance, lambda: pg.rows(T1))
    first_id = await harness.scalar("SELECT id FROM principals WHERE key = 'user00001'")

    pg.drop_role("user00001")
    gone = await harness.sync(instance, lambda: pg.rows(T2))
    removed = await harness.rows(
        "SELECT type, diff FROM principal_changes WHERE principal_id = :p AND type = 'removed'", p=first_id)
    assert gone.counters["accounts_removed"] == 1
    assert len(removed) == 1 and '"vanished"' in str(removed[0]["diff"]).replace("'", '"')
    assert await harness.scalar("SELECT count(*) FROM grant_intervals WHERE principal_id = :p AND valid_to IS NULL",
                                p=first_id) == 0

    pg.add_role("user00001", login=True)
    pg.grant("user00001", "DELETE", "t9")
    back = await harness.sync(instance, lambda: pg.rows(T3))
    assert back.counters["accounts_reactivated"] == 1
    assert back.counters["accounts_added"] == 0
    assert back.counters["grants_granted"] == 0  # reactivations count only in accounts_reactivated
    assert await harness.scalar("SELECT id FROM principals WHERE key = 'user00001'") == first_id
    types = [r["type"] for r in await harness.rows(
        "SELECT type FROM principal_changes WHERE principal_id = :p ORDER BY id", p=first_id)]
    # It came back with DELETE on t9 but without its old membership and INSERT grant: both are visible.
    assert types == ["added", "removed", "reactivated", "privileges_granted", "privileges_revoked"]
    assert back.details["reactivated"][0]["key"] == "user00001"  # type: ignore[index]


async def test_filtered_is_not_vanished(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    await harness.sync(instance, lambda: pg.rows(T1))
    harness.filters = AccountFilterSettings({DbEngine.POSTGRESQL: AccountFilter(engine=DbEngine.POSTGRESQL,
                                                                                exclude=("user00000",))})
    await harness.sync(instance, lambda: pg.rows(T2))
    # PostgreSQL principals are roles: a filtered one stays a role node (active, no longer an account).
    row = (await harness.rows("SELECT id, active, is_account FROM principals WHERE key = 'user00000'"))[0]
    assert (row["active"], row["is_account"]) == (1, 0)
    removed = await harness.rows("SELECT diff FROM principal_changes WHERE principal_id = :p AND type = 'removed'",
                                 p=row["id"])
    assert len(removed) == 1 and "filtered" in str(removed[0]["diff"])
    assert "vanished" not in str(removed[0]["diff"])


async def test_time_does_not_create_changes(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    pg.add_role("expiring", login=True, valid_until=T1 + timedelta(minutes=5))
    await harness.sync(instance, lambda: pg.rows(T1))
    harness.reset_statements()
    result = await harness.sync(instance, lambda: pg.rows(T3))  # valid_until has passed
    assert harness.ledger_writes() == []
    assert result.counters["accounts_changed"] == 0


async def test_grant_change_writes_only_that_principal(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance, accounts=20)
    await harness.sync(instance, lambda: pg.rows(T1))
    pg.grant("user00003", "UPDATE", "t3", option=True)
    harness.reset_statements()
    result = await harness.sync(instance, lambda: pg.rows(T2))
    assert result.counters == {**result.counters, "accounts_changed": 1, "grants_granted": 1, "grants_revoked": 0}
    versions = await harness.rows("SELECT p.key, v.valid_to FROM principal_state_versions v "
                                  "JOIN principals p ON p.id = v.principal_id WHERE v.valid_to IS NOT NULL")
    assert [v["key"] for v in versions] == ["user00003"]
    assert len(harness.ledger_writes()) <= 8


async def test_warnings_are_capped(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    noisy = normalize_postgresql(pg.rows(T1))
    many = tuple(SnapshotWarning("w", f"warning {i}") for i in range(80))
    with mock.patch("whalefall.application.accounts.run_instance_sync.normalize",
                    return_value=replace(noisy, warnings=many)):
        result = await harness.sync(instance, lambda: pg.rows(T1))
    assert len(result.warnings) == MAX_WARNINGS
    assert result.counters["warning_count"] == 80


async def test_cancel_before_commit_writes_nothing(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    pg = server(instance)
    before = await harness.dump()
    calls = 0

    def source() -> object:
        nonlocal calls
        calls += 1
        assert harness.last_probe is not None
        harness.last_probe.cancel = True
        return pg.rows(T1)

    with pytest.raises(RecordCancelledError):
        await harness.sync(instance, source)  # type: ignore[arg-type]
    assert calls == 1
    assert await harness.dump() == before


async def test_inactive_and_deleted_instances_are_skipped(harness: SyncHarness) -> None:
    inactive = await harness.add_instance("sleepy", is_active=False)
    result = await harness.sync(inactive, lambda: server(inactive).rows(T1))
    assert result.skipped_code == "INSTANCE_INACTIVE"
    assert harness.connectors.opened == []


async def test_undecryptable_credential_fails_as_configuration(harness: SyncHarness) -> None:
    instance = await harness.add_instance()
    async with harness.database.connect() as connection:
        await connection.execute(text("UPDATE credentials SET secret_ciphertext = X'00'"))
        await connection.commit()
    with pytest.raises(ConnectorError) as caught:
        await harness.sync(instance, lambda: server(instance).rows(T1))
    assert caught.value.error_class is ErrorClass.CONFIG_ERROR
    assert caught.value.error_code == "CREDENTIAL_UNREADABLE"
