"""GET /classifications/statistics (every field of api.md §3.9) and /statistics/trend from assignment history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
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
from tests.support.http_client import Api, data_of, error_of
from whalefall.adapters.persistence.tables.classification import assignment_history
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.classification.statistics_trend import GetStatisticsTrend, TrendQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import ValidationProblemsError
from whalefall.domain.identity.roles import Role


async def _insert(api: Api, table: Any, rows: list[dict[str, Any]]) -> None:
    async with api.container() as scope:
        uow = await scope.get(SqlAlchemyUnitOfWork)
        await (await uow.connection()).execute(insert(table), rows)
        await uow.commit()


def _item(stats: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in stats["items"] if i["classification"]["code"] == code)


async def test_statistics_report_last_session_unclassified_rule_names_and_engines_without_facts(api: Api) -> None:
    auditor, op = await api.headers(Role.AUDITOR), await api.headers(Role.OPERATOR)
    instance = await mysql_instance(api, "m1")
    accounts = await add_accounts(api, instance, [["SUPER"], ["PROCESS"], [], []])
    super_rule = await create_rule(api, SUPER, "superusers")
    process_rule = await create_rule(api, PROCESS, "process holders", "low")
    pg_rule = data_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": "pg supers", "classification_id": await classification_id(api, "super"), "db_type": "postgresql",
        "expression": SUPER}))["id"]
    before = data_of(await api.client.get("/api/v1/classifications/statistics", headers=auditor))
    assert before["last_session"] is None and before["unclassified_count"] == 4
    assert before["engines_without_facts"] == ["postgresql"]

    await classify(api)
    finished = datetime(2026, 5, 1, 12, tzinfo=UTC)
    session_id = str(uuid.uuid4())
    await _insert(api, sync_sessions, [{
        "id": session_id, "kind": "classification", "scope": "fleet", "trigger": "manual", "status": "completed",
        "created_at": finished, "started_at": finished, "finished_at": finished, "params": {}, "summary": {}}])
    stats = data_of(await api.client.get("/api/v1/classifications/statistics", headers=auditor))
    assert stats["last_session"]["session_id"] == session_id
    assert stats["last_session"]["finished_at"].startswith("2026-05-01T12:00:00")
    assert stats["unclassified_count"] == 2, "u2 and u3 hold nothing any rule matches"
    assert stats["engines_without_facts"] == ["postgresql"]
    assert _item(stats, "super")["rules"] == [
        {"rule_id": super_rule, "name": "superusers", "matched_account_count": 1, "error_count": 0},
        {"rule_id": pg_rule, "name": "pg supers", "matched_account_count": 0, "error_count": 0}]
    assert _item(stats, "low")["rules"][0]["name"] == "process holders"
    assert _item(stats, "low")["rules"][0]["rule_id"] == process_rule
    filtered = data_of(await api.client.get("/api/v1/classifications/statistics",
                                            params={"db_type": "mysql"}, headers=auditor))
    assert filtered["engines_without_facts"] == [] and filtered["unclassified_count"] == 2
    other = data_of(await api.client.get("/api/v1/classifications/statistics",
                                         params={"instance_id": instance + 999}, headers=auditor))
    assert other["unclassified_count"] == 0 and set(other["engines_without_facts"]) == {"mysql", "postgresql"}
    assert _item(other, "super")["rules"][0]["matched_account_count"] == 0, "hits follow the instance filter"
    mine = data_of(await api.client.get("/api/v1/classifications/statistics", params={"instance_id": instance},
                                        headers=auditor))
    assert _item(mine, "super")["rules"][0]["matched_account_count"] == 1
    assert len(accounts) == 4


async def test_trend_counts_distinct_accounts_per_day_from_history_overlap(api: Api) -> None:
    auditor = await api.headers(Role.AUDITOR)
    instance = await mysql_instance(api, "m1")
    first, second = await add_accounts(api, instance, [["SUPER"], ["SUPER"]])
    rule = await create_rule(api, SUPER, "superusers")
    critical = await classification_id(api, "super")
    today = (await now(api)).date()

    def at(days: int, hour: int = 0) -> datetime:
        return datetime.combine(today - timedelta(days=days), time(hour), tzinfo=UTC)

    base = {"classification_id": critical, "instance_id": instance, "db_type": "mysql"}
    await _insert(api, assignment_history, [
        base | {"account_id": first, "source": "auto", "valid_from": at(5, 10), "valid_to": at(3), "rule_ids": []},
        # the same account also held manually for a while: counted once
        base | {"account_id": first, "source": "manual", "valid_from": at(5, 11), "valid_to": at(4, 9),
                "rule_ids": []},
        base | {"account_id": second, "source": "auto", "valid_from": at(4, 12), "valid_to": None,
                "rule_ids": [rule]},
    ])
    params = {"classification_id": critical, "rule_id": rule, "period_type": "daily",
              "start_on": str(today - timedelta(days=6)), "end_on": str(today)}
    trend = data_of(await api.client.get("/api/v1/classifications/statistics/trend", params=params,
                                         headers=auditor))
    assert trend["period_type"] == "daily"
    by_class, by_rule = trend["series"]
    assert by_class["classification_id"] == critical and "rule_id" not in by_class
    assert [p["max_count"] for p in by_class["points"]] == [None, 1, 2, 1, 1, 1, 1]
    assert [p["covered_days"] for p in by_class["points"]] == [0, 1, 1, 1, 1, 1, 1], "tracking starts day -5"
    assert all(p["expected_days"] == 1 for p in by_class["points"])
    assert by_class["points"][0]["period_start"] == str(today - timedelta(days=6))
    assert by_rule["rule_id"] == rule and [p["max_count"] for p in by_rule["points"]] == [None, 0, 1, 1, 1, 1, 1]

    weekly = data_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor, params={
        "classification_id": critical, "period_type": "weekly", "start_on": str(today), "end_on": str(today)}))
    (point,) = weekly["series"][0]["points"]
    monday = today - timedelta(days=today.weekday())
    assert (point["period_start"], point["period_end"]) == (str(monday), str(monday + timedelta(days=6)))
    assert point["expected_days"] == today.weekday() + 1, "days after today are not expected"
    assert point["max_count"] >= point["avg_count"] >= point["min_count"] >= 1


async def test_trend_without_filters_has_one_series_per_classification_and_refuses_bad_queries(api: Api) -> None:
    auditor = await api.headers(Role.AUDITOR)
    everything = data_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor))
    assert len(everything["series"]) == 6 and everything["period_type"] == "daily"
    points = everything["series"][0]["points"]
    assert len(points) == 30 and points[-1]["period_start"] == str((await now(api)).date())
    assert all(p["covered_days"] == 0 and p["avg_count"] is None for p in points), "nothing was ever assigned"
    reversed_range = error_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor,
                                                   params={"start_on": "2026-05-02", "end_on": "2026-05-01"}),
                              400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in reversed_range["details"]] == [("query.start_on", "out_of_range")]
    unknown = error_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor,
                                            params={"classification_id": 987654, "rule_id": 987655}),
                       422, "INVALID_REFERENCE")
    assert [d["field"] for d in unknown["details"]] == ["query.classification_id[0]"]
    error_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor,
                                  params={"period_type": "hourly"}), 400, "VALIDATION_ERROR")
    far = error_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor,
                                        params={"start_on": "0001-01-01", "end_on": "9999-12-31"}),
                   400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in far["details"]] == [("query.start_on", "out_of_range"),
                                                                 ("query.end_on", "out_of_range")]
    huge = error_of(await api.client.get("/api/v1/classifications/statistics/trend", headers=auditor,
                                         params={"rule_id": 2**70}), 400, "VALIDATION_ERROR")
    assert [d["field"].split("[")[0] for d in huge["details"]] == ["query.rule_id"]
    error_of(await api.client.get("/api/v1/classifications/statistics", headers=auditor,
                                  params={"instance_id": 2**70}), 400, "VALIDATION_ERROR")
    async with api.container() as scope:  # embedders calling the use case get the same bound as the API
        with pytest.raises(ValidationProblemsError) as refused:
            await (await scope.get(GetStatisticsTrend)).execute(Actor.system(), TrendQuery(rule_ids=(2**70,)))
    assert [(p.field, p.code) for p in refused.value.problems] == [("query.rule_id[0]", "too_large")]
