"""Helpers that put classifications and assignments next to a synced ledger (rows as the classification slice
writes them), for the accounts tests that read or close them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from tests.unit.application.accounts.harness import T0, SyncHarness
from whalefall.adapters.persistence.tables.classification import (
    assignment_history,
    classification_assignments,
    classifications,
)


async def add_classification(ledger: SyncHarness, code: str, priority: int) -> int:
    async with ledger.database.engine.begin() as connection:
        return int((await connection.execute(insert(classifications).values(
            code=code, display_name=code, display_name_key=code, risk_level=3, priority=priority, icon="tag",
            is_system=False, is_active=True, created_at=T0, updated_at=T0, revision=1,
        ).returning(classifications.c.id))).scalar_one())


async def assign(ledger: SyncHarness, account: int, instance: int, classification: int, source: str, *,
                 primary: bool, at: datetime = T0) -> None:
    async with ledger.database.engine.begin() as connection:
        await connection.execute(insert(classification_assignments).values(
            account_id=account, classification_id=classification, source=source, instance_id=instance,
            db_type="postgresql", matched_rules=[], is_primary=primary, assigned_at=at))
        await connection.execute(insert(assignment_history).values(
            account_id=account, classification_id=classification, source=source, instance_id=instance,
            db_type="postgresql", valid_from=at, rule_ids=[]))
