"""grants_stale, per-instance filter overrides, classification filters and the accounts and change-log CSV exports
(accounts.md §3, §6.1; api.md §3.8, §5), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.fakes.account_sync import FakePgServer
from tests.integration.accounts.classified import add_classification, assign
from tests.support.http_client import Api, data_of, error_of
from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.engine import Database
from whalefall.application.accounts.account_filters import (
    ClearAccountFilter,
    GetAccountFilter,
    SetAccountFilter,
    SetAccountFilterInput,
)
from whalefall.application.accounts.export_account_changes import COLUMNS as CHANGE_COLUMNS
from whalefall.application.accounts.export_accounts import COLUMNS
from whalefall.application.shared.actor import Actor
from whalefall.domain.accounts.rows.common import DatabaseFailure
from whalefall.domain.errors import NotFoundError, ValidationProblemsError
from whalefall.domain.identity.roles import Role
from whalefall.domain.instances import InstanceId

T1, T2, T3, T4 = (T0 + timedelta(hours=h) for h in (1, 2, 3, 4))
ACTOR = Actor.system("wf_h1_test")


def _server(instance: int) -> FakePgServer:
    pg = FakePgServer(instance)
    pg.add_role("alice", login=True)
    pg.grant("alice", "INSERT", "orders")
    pg.add_role("bob", login=True)
    pg.add_role("=cmd|calc", login=True)  # a key a spreadsheet would run as a formula
    return pg


async def _ids(ledger: SyncHarness) -> dict[str, int]:
    return {r["key"]: int(r["id"]) for r in await ledger.rows("SELECT id, key FROM principals")}


async def _listed(api: Api, **params: str | int | list[int]) -> list[str]:
    headers = await api.headers(Role.AUDITOR)
    query: dict[str, str | int | list[int]] = {"limit": 200, **params}
    page = data_of(await api.client.get("/api/v1/accounts", params=query, headers=headers))
    return sorted(item["key"] for item in page["items"])


async def test_grants_stale_follows_coverage_gaps(accounts_api: Api) -> None:
    ledger = SyncHarness(await accounts_api.container.get(Database))
    instance = await ledger.add_instance()
    pg = _server(instance)
    await ledger.sync(instance, lambda: pg.rows(T1))
    assert await _listed(accounts_api, grants_stale="true") == []

    # The `app` database cannot be read: alice's table grant there is carried forward, hence stale.
    def unreadable() -> object:
        rows = pg.rows(T2)
        return replace(rows, databases=(), failed_databases=(DatabaseFailure(database="app", connect_failed=True),))

    result = await ledger.sync(instance, unreadable)  # type: ignore[arg-type]
    assert result.counters["coverage_gaps"] == 1
    assert await _listed(accounts_api, grants_stale="true") == ["alice"]
    assert "bob" in await _listed(accounts_api, grants_stale="false")
    headers = await accounts_api.headers(Role.AUDITOR)
    alice = data_of(await accounts_api.client.get(f"/api/v1/accounts/{(await _ids(ledger))['alice']}",
                                                  headers=headers))
    assert alice["grants_stale"] is True and alice["coverage_gaps"][0]["database"] == "app"

    await ledger.sync(instance, unreadable)  # type: ignore[arg-type]
    assert await _listed(accounts_api, grants_stale="true") == ["alice"]
    await ledger.sync(instance, lambda: pg.rows(T3))  # readable again
    assert await _listed(accounts_api, grants_stale="true") == []


async def test_instance_filter_override_replaces_the_engine_filter(accounts_api: Api) -> None:
    ledger = SyncHarness(await accounts_api.container.get(Database))
    instance, other = await ledger.add_instance("pg1"), await ledger.add_instance("pg2")
    pg, pg2 = _server(instance), _server(other)
    await ledger.sync(instance, lambda: pg.rows(T1))
    async with accounts_api.container() as scope:
        shown = await (await scope.get(GetAccountFilter)).execute(ACTOR, InstanceId(instance))
        assert shown.override is None and "pg_*" in shown.filter.exclude
        await (await scope.get(SetAccountFilter)).execute(SetAccountFilterInput(
            actor=ACTOR, instance_id=InstanceId(instance), exclude=("pg_*", "b?b")))
    async with accounts_api.container() as scope:
        shown = await (await scope.get(GetAccountFilter)).execute(ACTOR, InstanceId(instance))
        assert shown.filter.exclude == ("pg_*", "b?b") and shown.override is not None

    await ledger.sync(instance, lambda: pg.rows(T2))
    await ledger.sync(other, lambda: pg2.rows(T2))
    removed = await ledger.rows("SELECT p.key, p.instance_id, c.diff FROM principal_changes c "
                                "JOIN principals p ON p.id = c.principal_id WHERE c.type = 'removed'")
    assert [(r["key"], r["instance_id"]) for r in removed] == [("bob", instance)]  # pg2 keeps the settings
    assert '"filtered"' in str(removed[0]["diff"]).replace("'", '"')
    audit = await ledger.rows("SELECT action, target_id FROM audit_events WHERE action = 'instance.update'")
    assert audit == [{"action": "instance.update", "target_id": str(instance)}]

    async with accounts_api.container() as scope:
        assert await (await scope.get(ClearAccountFilter)).execute(ACTOR, InstanceId(instance)) is True
    async with accounts_api.container() as scope:
        assert await (await scope.get(ClearAccountFilter)).execute(ACTOR, InstanceId(instance)) is False
    await ledger.sync(instance, lambda: pg.rows(T3))
    # A filtered PostgreSQL role stays a role node (accounts.md §5.1), so its return is an `added` account again.
    assert await ledger.scalar("SELECT is_account FROM principals WHERE key = 'bob' AND instance_id = :i",
                               i=instance) in (True, 1)


async def test_filter_override_input_is_checked(accounts_api: Api) -> None:
    ledger = SyncHarness(await accounts_api.container.get(Database))
    instance = await ledger.add_instance()
    async with accounts_api.container() as scope:
        use_case = await scope.get(SetAccountFilter)
        with pytest.raises(ValidationProblemsError) as caught:
            await use_case.execute(SetAccountFilterInput(actor=ACTOR, instance_id=InstanceId(instance),
                                                         exclude=("ok", "  ", "x" * 600)))
        assert [p.field for p in caught.value.problems] == ["body.exclude[1]", "body.exclude[2]"]
        with pytest.raises(NotFoundError):
            await use_case.execute(SetAccountFilterInput(actor=ACTOR, instance_id=InstanceId(987654),
                                                         exclude=()))
    assert await ledger.scalar("SELECT count(*) FROM instance_account_filters") == 0


async def _classified(api: Api) -> tuple[SyncHarness, int, dict[str, int], int, int]:
    ledger = SyncHarness(await api.container.get(Database))
    instance = await ledger.add_instance("pg-export")
    pg = _server(instance)
    await ledger.sync(instance, lambda: pg.rows(T1))
    ids = await _ids(ledger)
    high, low = await add_classification(ledger, "wf_h1_high", 90), await add_classification(ledger, "wf_h1_low", 5)
    await assign(ledger, ids["alice"], instance, high, "auto", primary=True)
    await assign(ledger, ids["alice"], instance, low, "manual", primary=False)
    await assign(ledger, ids["bob"], instance, low, "auto", primary=True)
    return ledger, instance, ids, high, low


async def test_classification_filters_and_account_classifications(accounts_api: Api) -> None:
    _, instance, ids, high, low = await _classified(accounts_api)

    assert await _listed(accounts_api, classification_id=high) == ["alice"]
    assert await _listed(accounts_api, classification_id=[high, low]) == ["alice", "bob"]
    unclassified = await _listed(accounts_api, unclassified="true", instance_id=instance)
    assert "alice" not in unclassified and "bob" not in unclassified and "=cmd|calc" in unclassified
    assert await _listed(accounts_api, unclassified="false") == ["alice", "bob"]
    headers = await accounts_api.headers(Role.AUDITOR)
    alice = data_of(await accounts_api.client.get(f"/api/v1/accounts/{ids['alice']}", headers=headers))
    assert alice["classifications"] == [
        {"id": high, "code": "wf_h1_high", "display_name": "wf_h1_high", "is_primary": True, "source": "auto"},
        {"id": low, "code": "wf_h1_low", "display_name": "wf_h1_low", "is_primary": False, "source": "manual"}]
    bad = error_of(await accounts_api.client.get("/api/v1/accounts", params={"unclassified": "maybe"},
                                                 headers=headers), 400, "VALIDATION_ERROR")
    assert [d["field"] for d in bad["details"]] == ["query.unclassified"]


async def test_accounts_csv_export(accounts_api: Api) -> None:
    _, instance, _ids, high, _low = await _classified(accounts_api)
    headers = await accounts_api.headers(Role.AUDITOR)

    response = await accounts_api.client.get("/api/v1/accounts/exports",
                                             params={"instance_id": instance, "bom": "true"}, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="accounts_')
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == COLUMNS
    by_key = {row[4]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_key["alice"]["classifications"] == "wf_h1_high;wf_h1_low"
    assert by_key["alice"]["primary_classification"] == "wf_h1_high"
    assert by_key["alice"]["is_active"] == "true" and by_key["alice"]["first_seen_at"].endswith("Z")
    assert by_key["'=cmd|calc"]["classifications"] == ""  # formula guard on the key cell
    assert b"\r\n" in response.content

    filtered = await accounts_api.client.get("/api/v1/accounts/exports",
                                             params={"classification_id": high}, headers=headers)
    keys = [row[4] for row in csv.reader(io.StringIO(filtered.text, newline=""))][1:]
    assert keys == ["alice"] and not filtered.content.startswith("\ufeff".encode())
    events = await SyncHarness(await accounts_api.container.get(Database)).rows(
        "SELECT action, target_type FROM audit_events WHERE action = 'export.download'")
    assert events == [{"action": "export.download", "target_type": "accounts"}] * 2
    error_of(await accounts_api.client.get("/api/v1/accounts/exports", headers=await accounts_api.headers(
        Role.VIEWER)), 403, "PERMISSION_DENIED")
    bad = error_of(await accounts_api.client.get("/api/v1/accounts/exports", params={"colour": "red"},
                                                 headers=headers), 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in bad["details"]] == [("query.colour", "unknown_parameter")]


async def test_account_changes_csv_export(accounts_api: Api) -> None:
    ledger = SyncHarness(await accounts_api.container.get(Database))
    instance = await ledger.add_instance("pg-changes")
    pg = _server(instance)
    pg.add_role("app_ro")
    await ledger.sync(instance, lambda: pg.rows(T1))
    pg.grant("bob", "SELECT", "orders", option=True)
    pg.grant_role("app_ro", "bob")
    pg.revoke("alice", "INSERT", "orders")
    await ledger.sync(instance, lambda: pg.rows(T2), session_id="00000000-0000-4000-8000-0000000000c2")
    headers = await accounts_api.headers(Role.AUDITOR)
    window = {"from": T1.isoformat(), "to": (T0 + timedelta(days=300)).isoformat()}

    response = await accounts_api.client.get("/api/v1/account-changes/exports", params=window, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith('attachment; filename="account_changes_')
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert list(rows[0]) == list(CHANGE_COLUMNS)
    by_type = {(r["key"], r["type"]): r for r in rows}  # entries at T1 are excluded: `from` is exclusive
    assert {r["observed_at"] for r in rows} == {"2025-03-01T14:00:00Z"}
    granted = by_type[("bob", "privileges_granted")]
    assert (granted["granted"], granted["memberships_added"]) == ("SELECT@app.public.orders", "app_ro")
    assert granted["session_id"] == "00000000-0000-4000-8000-0000000000c2"
    assert by_type[("alice", "privileges_revoked")]["revoked"] == "INSERT@app.public.orders"
    assert by_type[("alice", "privileges_revoked")]["granted"] == ""

    only_alice = await accounts_api.client.get("/api/v1/account-changes/exports", params={**window, "q": "alic"},
                                               headers=headers)
    assert {r["key"] for r in csv.DictReader(io.StringIO(only_alice.text, newline=""))} == {"alice"}
    too_wide = error_of(await accounts_api.client.get("/api/v1/account-changes/exports", params={
        "from": T0.isoformat(), "to": (T0 + timedelta(days=400)).isoformat()}, headers=headers),
        400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in too_wide["details"]] == [("query.from", "window_too_large")]
