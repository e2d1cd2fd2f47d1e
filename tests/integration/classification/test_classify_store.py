"""ClassifyRecord on the real stores (SQLite and PostgreSQL): end to end from ledger rows, explain agreement,
the unique constraint and concurrent runs (classification.md §9; defects 3, 5, 19)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.http_client import Api, data_of, error_of
from tests.unit.application.classification.fakes import context
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.domain.accounts.model import (
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    canonical_json,
    state_document,
    state_hash,
)
from whalefall.domain.identity.roles import Role
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope

SUPER: dict[str, Any] = {"version": 4, "expr": {"fn": "is_superuser"}}
LOGIN: dict[str, Any] = {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOGIN"}}}


async def _ledger(api: Api, count: int) -> tuple[int, list[int]]:
    """One MySQL instance with `count` users; every third holds SUPER."""
    op = await api.headers(Role.OPERATOR)
    instance = data_of(await api.client.post("/api/v1/instances", headers=op, json={
        "name": "m1", "db_type": "mysql", "host": "m1.example.com"}))["id"]
    ids = []
    async with api.container() as scope:
        from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
        uow = await scope.get(SqlAlchemyUnitOfWork)
        connection = await uow.connection()
        for n in range(count):
            ref = PrincipalRef.of(PrincipalKind.USER, f"u{n}@%")
            grants = (PrivilegeGrant(principal=ref, privilege="SUPER", scope=Scope.GLOBAL),) if n % 3 == 0 else ()
            state = PrincipalState(ref=ref, is_account=True, grants=grants,
                                   attributes={"login_capable": True, "locked": False, "host": "%"})
            row = (await connection.execute(text(
                "INSERT INTO principals (instance_id, kind_class, kind, namespace, key, is_account, active, "
                "first_seen_at, login_capable, locked, superuser, password_expired, grants_stale, attributes, roles)"
                " VALUES (:i, 'principal', 'user', '', :k, true, true, CURRENT_TIMESTAMP, true, false, false, false,"
                " false, '{}', '[]') RETURNING id"), {"i": instance, "k": ref.key})).scalar_one()
            await connection.execute(text(
                "INSERT INTO principal_state_versions (principal_id, instance_id, state, state_hash, valid_from) "
                "VALUES (:p, :i, :s, :h, CURRENT_TIMESTAMP)"),
                {"p": row, "i": instance, "s": canonical_json(state_document(state)), "h": state_hash(state)})
            ids.append(int(row))
        await uow.commit()
    return int(instance), ids


async def _rule(api: Api, expression: dict[str, Any], name: str, classification_code: str = "super") -> int:
    op = await api.headers(Role.OPERATOR)
    listed = data_of(await api.client.get("/api/v1/classifications?limit=50", headers=op))["items"]
    classification = next(c["id"] for c in listed if c["code"] == classification_code)
    return int(data_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": name, "classification_id": classification, "db_type": "mysql", "expression": expression}))["id"])


async def _classify(api: Api, session_id: str = "s-1") -> dict[str, Any]:
    async with api.container() as scope:
        work = await scope.get(ClassifyRecord)
        return dict((await work.run(context(DbEngine.MYSQL, session_id=session_id))).counters)


async def test_classify_from_the_ledger_matches_explain_and_rewrites_nothing_unchanged(api: Api) -> None:
    _, accounts = await _ledger(api, 9)
    super_rule = await _rule(api, SUPER, "super")
    await _rule(api, LOGIN, "login", "low")
    first = await _classify(api)
    assert (first["accounts_in_scope"], first["assignments_added"]) == (9, 12)
    rows = await api.rows("SELECT account_id, is_primary FROM classification_assignments WHERE rule_id = :r",
                          r=super_rule)
    assert sorted(r["account_id"] for r in rows) == accounts[::3] and all(r["is_primary"] for r in rows)
    auditor = await api.headers(Role.AUDITOR)
    for account in accounts:
        explanation = data_of(await api.client.get(f"/api/v1/rules/{super_rule}/explain?account_id={account}",
                                                   headers=auditor))
        assert explanation["matched"] is (account in accounts[::3])
    dry = data_of(await api.client.post("/api/v1/rules/actions/dry-run", headers=auditor, json={
        "draft": {"db_type": "mysql", "expression": SUPER}, "compare_with_rule_id": super_rule}))
    assert (dry["matched"], dry["newly_matching"], dry["no_longer_matching"]) == (3, 0, 0)
    second = await _classify(api, "s-2")
    assert (second["assignments_added"], second["assignments_unchanged"]) == (0, 12)
    sessions = await api.rows("SELECT DISTINCT session_id FROM classification_assignments")
    assert [r["session_id"] for r in sessions] == ["s-1"]
    stats = data_of(await api.client.get("/api/v1/classifications/statistics", headers=auditor))
    counts = {i["classification"]["code"]: i["account_count"] for i in stats["items"]}
    assert (counts["super"], counts["low"]) == (3, 9)


async def test_defect_5_the_unique_constraint_refuses_a_second_row(api: Api) -> None:
    _, accounts = await _ledger(api, 1)
    await _rule(api, SUPER, "super")
    await _classify(api)
    row = (await api.rows("SELECT * FROM classification_assignments"))[0]
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with api.container() as scope:
            from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
            uow = await scope.get(SqlAlchemyUnitOfWork)
            await (await uow.connection()).execute(text(
                "INSERT INTO classification_assignments (account_id, classification_id, source, instance_id, "
                "db_type, matched_rules, is_primary, assigned_at) VALUES (:a, :c, 'auto', :i, 'mysql', '[]', false,"
                " CURRENT_TIMESTAMP)"), {"a": row["account_id"], "c": row["classification_id"],
                                         "i": row["instance_id"]})
    op = await api.headers(Role.OPERATOR)
    manual = data_of(await api.client.post("/api/v1/classification-assignments", headers=op, json={
        "account_id": accounts[0], "classification_id": row["classification_id"]}))
    error_of(await api.client.post("/api/v1/classification-assignments", headers=op, json={
        "account_id": accounts[0], "classification_id": row["classification_id"]}), 409, "ALREADY_EXISTS")
    auto = await api.rows("SELECT id FROM classification_assignments WHERE source = 'auto'")
    error_of(await api.client.delete(f"/api/v1/classification-assignments/{auto[0]['id']}", headers=op), 409,
             "INVALID_STATE")
    data_of(await api.client.delete(f"/api/v1/classification-assignments/{manual['id']}", headers=op))


@pytest.mark.postgres
async def test_defect_5_concurrent_runs_never_lose_or_duplicate(api: Api) -> None:
    if "postgresql" not in str(api.settings.database_url):
        pytest.skip("concurrency is exercised on PostgreSQL")
    await _ledger(api, 30)
    await _rule(api, SUPER, "super")
    await _rule(api, LOGIN, "login", "low")
    results = await asyncio.gather(*(_classify(api, f"s-{n}") for n in range(4)), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    rows = await api.rows("SELECT account_id, classification_id, count(*) AS n FROM classification_assignments "
                          "GROUP BY account_id, classification_id")
    assert len(rows) == 40 and all(r["n"] == 1 for r in rows)
    history = await api.rows("SELECT count(*) AS n FROM assignment_history WHERE valid_to IS NULL")
    assert history[0]["n"] == 40
    added = sum(r["assignments_added"] for r in results if isinstance(r, dict))
    assert added == 40
