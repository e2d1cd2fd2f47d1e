"""Compact evidence in explanation_ref of auto assignments (§8.3) and the dry-run classification effect (§10)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from tests.integration.classification.support import (
    PROCESS,
    SUPER,
    add_accounts,
    classification_id,
    classify,
    create_rule,
    mysql_instance,
    now,
)
from tests.support.http_client import Api, data_of
from whalefall.adapters.persistence.tables.accounts import principal_state_versions, principals
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.classification.dry_run import DryRunInput, DryRunRule
from whalefall.application.shared.actor import Actor
from whalefall.domain.accounts.model import (
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    state_document,
    state_hash,
)
from whalefall.domain.identity.roles import Role
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope

LOGIN: dict[str, Any] = {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOGIN"}}}
FILE: dict[str, Any] = {"version": 4, "expr": {"fn": "has_privilege", "args": {"name": "FILE", "scope": "global"}}}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_auto_assignments_store_the_primary_rule_reference_and_its_supporting_evidence(api: Api) -> None:
    instance = await mysql_instance(api, "m1")
    holder, _nobody = await add_accounts(api, instance, [["SUPER", "PROCESS"], []])
    super_rule = await create_rule(api, SUPER, "supers")
    either = await create_rule(api, {"version": 4, "expr": {"op": "OR", "args": [
        PROCESS["expr"], {"op": "NOT", "args": [LOGIN["expr"]]}]}}, "process or no login", "low")
    await classify(api)
    rows = await api.rows("SELECT rule_id, explanation_ref FROM classification_assignments WHERE account_id = :a "
                          "ORDER BY rule_id", a=holder)
    refs = {row["rule_id"]: _json(row["explanation_ref"]) for row in rows}
    assert set(refs) == {super_rule, either}
    versions = await api.rows("SELECT id FROM principal_state_versions WHERE principal_id = :a", a=holder)
    ref = refs[super_rule]
    assert (ref["rule_id"], ref["rule_revision"], ref["state_version_id"]) == (super_rule, 1, versions[0]["id"])
    assert ref["as_of"]
    (leaf,) = ref["evidence"]
    assert (leaf["path"], leaf["fn"], leaf["more"]) == ("$.expr", "is_superuser", 0)
    assert leaf["evidence"][0]["capability"] == "SUPERUSER"
    (process_leaf,) = refs[either]["evidence"]  # the true LOGIN leaf under NOT argues against: left out
    assert process_leaf["path"] == "$.expr.args[0]"
    assert [(g["privilege"], g["scope"], g["source"]) for g in process_leaf["evidence"]] == [
        ("PROCESS", "global", "direct")]


async def test_dry_run_reports_who_would_join_or_leave_the_classification(api: Api) -> None:
    instance = await mysql_instance(api, "m1")
    _u0, u1, _u2, u3 = await add_accounts(api, instance, [["SUPER"], ["PROCESS"], ["PROCESS", "SUPER"], []])
    await create_rule(api, SUPER, "supers")
    process_rule = await create_rule(api, PROCESS, "process")
    auditor = await api.headers(Role.AUDITOR)

    async def dry(expression: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return dict(data_of(await api.client.post("/api/v1/rules/actions/dry-run", headers=auditor, json={
            "draft": {"db_type": "mysql", "expression": expression}, **extra})))

    narrower = await dry(FILE, compare_with_rule_id=process_rule)
    critical = await classification_id(api, "super")
    assert narrower["classification_effect"] == {"classification_id": critical, "gain_count": 0, "lose_count": 1,
                                                 "gain": [], "lose": [u1]}, "u2 stays through the SUPER rule"
    assert narrower["no_longer_matching"] == 2, "the rule itself loses u1 and u2"
    wider = await dry(LOGIN, compare_with_rule_id=process_rule, sample_limit=0)
    effect = wider["classification_effect"]
    assert (effect["gain_count"], effect["lose_count"], effect["gain"]) == (1, 0, []), "lists capped at 0"
    assert (await dry(LOGIN))["classification_effect"] is None, "no classification known"

    async with api.container() as scope:
        use_case = await scope.get(DryRunRule)
        library = await use_case.execute(DryRunInput(actor=Actor.system(), db_type=DbEngine.MYSQL,
                                                     expression=LOGIN, classification_id=critical))
    assert library.classification_effect is not None
    assert (library.classification_effect.gain, library.classification_effect.lose) == ((u3,), ())
    assert library.per_instance == {instance: 4}


async def _history(api: Api, instance: int, key: str, versions: list[tuple[datetime, datetime | None, list[str]]]
                   ) -> int:
    """An account whose ledger holds `versions` (valid_from, valid_to, global privileges)."""
    async with api.container() as scope:
        uow = await scope.get(SqlAlchemyUnitOfWork)
        connection = await uow.connection()
        ref = PrincipalRef.of(PrincipalKind.USER, key)
        account = (await connection.execute(insert(principals).values(
            instance_id=instance, kind_class="principal", kind="user", namespace="", key=ref.key, is_account=True,
            active=True, first_seen_at=versions[0][0], attributes={}, roles=[]).returning(principals.c.id))
        ).scalar_one()
        for valid_from, valid_to, privileges in versions:
            state = PrincipalState(ref=ref, is_account=True, grants=tuple(
                PrivilegeGrant(principal=ref, privilege=p, scope=Scope.GLOBAL) for p in privileges),
                attributes={"login_capable": True, "locked": False, "host": "%"})
            await connection.execute(insert(principal_state_versions).values(
                principal_id=account, instance_id=instance, state=state_document(state), state_hash=state_hash(state),
                valid_from=valid_from, valid_to=valid_to))
        await uow.commit()
    return int(account)


async def test_backtest_evaluates_the_ledger_state_and_the_rule_revision_of_the_instant(api: Api) -> None:
    moment = await now(api)
    instance = await mysql_instance(api, "m1")
    promoted = moment - timedelta(days=5)
    account = await _history(api, instance, "ops@%", [(moment - timedelta(days=10), promoted, []),
                                                     (promoted, None, ["SUPER"])])
    rule = await create_rule(api, SUPER, "supers")
    auditor = await api.headers(Role.AUDITOR)

    async def dry(at: datetime | None) -> dict[str, Any]:
        body: dict[str, Any] = {"draft": {"db_type": "mysql", "expression": SUPER}, "compare_with_rule_id": rule}
        if at is not None:
            body["at"] = at.isoformat()
        return dict(data_of(await api.client.post("/api/v1/rules/actions/dry-run", headers=auditor, json=body)))

    current = await dry(None)
    assert (current["matched"], current["compared_matched"], current["newly_matching"]) == (1, 1, 0)
    before = await dry(moment - timedelta(days=7))
    assert (before["evaluated_accounts"], before["matched"], before["ledger_unknown_at_t"]) == (1, 0, [])
    after = await dry(moment - timedelta(days=3))
    assert (after["matched"], after["compared_matched"], after["newly_matching"]) == (1, 0, 1), \
        "the stored rule did not exist yet: an empty baseline"
    assert after["samples"]["newly_matching"] == [account]
    unknown = await dry(moment - timedelta(days=20))
    assert (unknown["evaluated_accounts"], unknown["ledger_unknown_at_t"]) == (0, [instance])
