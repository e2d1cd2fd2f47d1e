"""Audit log port: append-only events written in the caller's transaction (operations.md §6)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from whalefall.application.shared.actor import Actor


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One event to append; `changes` maps field → [before, after] (secrets only as "<changed>")."""

    actor: Actor
    action: str
    target_type: str | None = None
    target_id: str | None = None
    outcome: AuditOutcome = AuditOutcome.SUCCESS
    changes: Mapping[str, tuple[object, object]] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def export_download(cls, actor: Actor, resource: str, row_count: int,
                        filters: Mapping[str, object]) -> AuditEntry:
        """The one `export.download` event every CSV export records (api.md §5); target type = the resource."""
        return cls(actor=actor, action="export.download", target_type=resource,
                   details={"resource": resource, "row_count": row_count, "filters": dict(filters)})


class AuditLog(Protocol):
    """Appends audit events through the current unit of work (same transaction as the change)."""

    @abstractmethod
    async def record(self, entry: AuditEntry) -> None:
        """Append one event; it commits or rolls back with the caller's transaction."""


def field_changes(before: Mapping[str, object], after: Mapping[str, object],
                  secret_fields: frozenset[str] = frozenset()) -> dict[str, tuple[object, object]]:
    """`{field: (before, after)}` for the fields whose value differs; secret fields become "<changed>"."""
    changes: dict[str, tuple[object, object]] = {}
    for key, new in after.items():
        old = before.get(key)
        if old != new:
            changes[key] = ("<changed>", "<changed>") if key in secret_fields else (old, new)
    return changes
