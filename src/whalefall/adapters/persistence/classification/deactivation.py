"""SqlAlchemyDeactivatedAccountAssignments: the accounts sync closes the auto assignments of deactivated accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.classification import (
    assignment_history,
    classification_assignments,
    classifications,
)
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.classification import DeactivatedAccountAssignments

A = classification_assignments.c
H = assignment_history.c
K = classifications.c
CHUNK: Final = 500


class SqlAlchemyDeactivatedAccountAssignments(DeactivatedAccountAssignments):
    """Over the sync's unit of work. Set-based per chunk of accounts: one SELECT, one DELETE, one history UPDATE,
    then the primary repair only for accounts that lost a primary auto row and still hold manual ones."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def close_auto(self, account_ids: Sequence[int], *, at: datetime) -> int:
        if not account_ids:
            return 0
        connection = await self._uow.connection()
        ids = sorted(set(account_ids))
        closed = 0
        lost_primary: set[int] = set()
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            rows = (await connection.execute(select(A.account_id, A.is_primary).where(
                A.source == "auto", A.account_id.in_(part)))).all()
            if not rows:
                continue
            closed += len(rows)
            lost_primary.update(int(account) for account, primary in rows if primary)
            await connection.execute(delete(classification_assignments).where(
                A.source == "auto", A.account_id.in_(part)))
            await connection.execute(update(assignment_history).where(
                H.source == "auto", H.valid_to.is_(None), H.account_id.in_(part)).values(valid_to=at))
        if lost_primary:
            await self._promote_manual(connection, sorted(lost_primary))
        return closed

    @staticmethod
    async def _promote_manual(connection: AsyncConnection, account_ids: list[int]) -> None:
        """classification.md §9 step 7 over what is left (manual only): highest priority, then lowest risk_level,
        then code."""
        for start in range(0, len(account_ids), CHUNK):
            rows = (await connection.execute(
                select(A.id, A.account_id, K.priority, K.risk_level, K.code)
                .select_from(classification_assignments.join(classifications, K.id == A.classification_id))
                .where(A.source == "manual", A.account_id.in_(account_ids[start:start + CHUNK])))).all()
            best: dict[int, tuple[tuple[int, int, str], int]] = {}
            for row_id, account, priority, risk, code in rows:
                key = (-int(priority), int(risk), str(code))
                if account not in best or key < best[account][0]:
                    best[int(account)] = (key, int(row_id))
            winners = [row_id for _, row_id in best.values()]
            if winners:
                await connection.execute(update(classification_assignments).where(A.id.in_(winners)).values(
                    is_primary=True))
