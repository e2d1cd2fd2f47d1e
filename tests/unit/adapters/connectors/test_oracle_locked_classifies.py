"""Classification legacy defect 13 (classification.md §14): an Oracle account whose status contains LOCKED has the
LOCKED capability after a sync — here the recorded Oracle 19c catalog read by the real connector, normalised and
turned into permission facts exactly as the accounts sync and auto-classify do (no Oracle server in CI)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.contracts.connectors import RecordedExecutor, load_recording
from whalefall.adapters.connectors._shared import ConnectorContext
from whalefall.adapters.connectors.oracle import OracleConnector
from whalefall.application.ports.connectors import ConnectorTimeouts
from whalefall.domain.accounts.facts import build_facts
from whalefall.domain.accounts.model import PrincipalKind, PrincipalRef
from whalefall.domain.accounts.normalize import normalize_oracle
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows
from whalefall.domain.classification import evaluate, parse_rule
from whalefall.domain.instances import DbEngine

LOCKED = parse_rule({"version": 4, "expr": {"op": "AND", "args": [
    {"fn": "db_type_in", "args": {"types": ["oracle"]}},
    {"fn": "has_capability", "args": {"name": "LOCKED"}}]}}, engine=DbEngine.ORACLE)


@pytest.mark.parametrize(("user", "locked"), [
    ("LOCKED_USER", True), ("TIMED_USER", True), ("OLD_USER", True), ("GRACE_USER", False),
    ("ROLLING_USER", False), ("WHALEFALL", False)])
async def test_defect_13_oracle_locked_status_tokens_give_the_locked_capability(
        context: ConnectorContext, user: str, locked: bool) -> None:
    connector = OracleConnector(RecordedExecutor(load_recording("oracle", "oracle-19c-pdb")),
                                timeouts=ConnectorTimeouts(), context=context)
    rows = await connector.read_account_catalog(instance_id=7)
    assert isinstance(rows, OracleCatalogRows)
    snapshot = normalize_oracle(rows)
    facts = build_facts(snapshot, PrincipalRef.of(PrincipalKind.USER, user), as_of=datetime(2026, 5, 1, tzinfo=UTC))
    assert ("LOCKED" in facts.capabilities) is locked
    assert evaluate(LOCKED, facts) is locked
