"""Classification use cases: list, detail, create, update, delete (classification.md §8.1, api.md §3.9)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from whalefall.application.classification.triggers import WriteTrail
from whalefall.application.ports.audit import AuditEntry, field_changes
from whalefall.application.ports.classification import (
    ClassificationInUseError,
    ClassificationQuery,
    ClassificationStore,
    ClassificationView,
    NewClassification,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import (
    NotFoundError,
    Problem,
    ProtectedResourceError,
    ValidationProblemsError,
    VersionConflictError,
)
from whalefall.domain.identity.roles import Permission

CODE: Final = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
#: Fields a system classification keeps (§8.1).
PROTECTED_FIELDS: Final = ("risk_level", "icon")
EDITABLE: Final = ("display_name", "description", "risk_level", "priority", "icon", "is_active")


def check_fields(values: Mapping[str, object]) -> None:
    """Field rules of §8.1; every problem at once as 400 problems on `body.<field>`."""
    problems: list[Problem] = []
    if "code" in values and not (isinstance(values["code"], str) and CODE.match(values["code"])):
        problems.append(Problem("body.code", "invalid_format", "code must match ^[a-z][a-z0-9_-]{0,99}$"))
    name = values.get("display_name")
    if "display_name" in values and not (isinstance(name, str) and len(name.strip()) >= 1 and len(name) <= 100):
        problems.append(Problem("body.display_name", "invalid_length", "display_name must have 1-100 characters"))
    risk = values.get("risk_level")
    if "risk_level" in values and not (type(risk) is int and 1 <= risk <= 6):
        problems.append(Problem("body.risk_level", "out_of_range", "risk_level must be an integer 1-6"))
    priority = values.get("priority")
    if "priority" in values and not (type(priority) is int and 0 <= priority <= 100):
        problems.append(Problem("body.priority", "out_of_range", "priority must be an integer 0-100"))
    icon = values.get("icon")
    if "icon" in values and not (isinstance(icon, str) and 1 <= len(icon) <= 64):
        problems.append(Problem("body.icon", "invalid_length", "icon must have 1-64 characters"))
    if problems:
        raise ValidationProblemsError(problems)


def summary(view: ClassificationView) -> dict[str, object]:
    """The audited fields of a classification (before/after summaries)."""
    return {"code": view.code, "display_name": view.display_name, "description": view.description,
            "risk_level": view.risk_level, "priority": view.priority, "icon": view.icon, "is_active": view.is_active}


@dataclass(frozen=True, slots=True)
class ListClassifications:
    """Classifications with their rule and account counts (permission `classifications:read`)."""

    store: ClassificationStore

    async def execute(self, actor: Actor, query: ClassificationQuery, page: PageRequest) -> Page[ClassificationView]:
        actor.require(Permission.CLASSIFICATIONS_READ)
        return await self.store.list_classifications(query, page)


@dataclass(frozen=True, slots=True)
class GetClassification:
    """One classification; unknown → 404."""

    store: ClassificationStore

    async def execute(self, actor: Actor, classification_id: int) -> ClassificationView:
        actor.require(Permission.CLASSIFICATIONS_READ)
        found = await self.store.get_classification(classification_id)
        if found is None:
            raise NotFoundError("classification", classification_id)
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateClassificationInput:
    actor: Actor
    code: str
    display_name: str
    description: str | None = None
    risk_level: int = 4
    priority: int = 0
    icon: str = "tag"
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class CreateClassification:
    """Create a classification (permission `rules:write`). Code and display name (case-insensitive) are unique
    (409 ALREADY_EXISTS); `rules_revision` is bumped, the `classification.create` event written and the debounced
    fleet run requested, all in the same transaction."""

    store: ClassificationStore
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, data: CreateClassificationInput) -> ClassificationView:
        data.actor.require(Permission.RULES_WRITE)
        check_fields({"code": data.code, "display_name": data.display_name, "risk_level": data.risk_level,
                      "priority": data.priority, "icon": data.icon})
        created = await self.store.insert_classification(NewClassification(
            code=data.code, display_name=data.display_name, description=data.description,
            risk_level=data.risk_level, priority=data.priority, icon=data.icon, is_active=data.is_active),
            now=self.clock.now())
        await self.store.bump_rules_revision()
        await self.trail.written(AuditEntry(
            actor=data.actor, action="classification.create", target_type="classification",
            target_id=str(created.id), details={"after": summary(created)}))
        await self.uow.commit()
        return created


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateClassificationInput:
    actor: Actor
    classification_id: int
    changes: Mapping[str, object]
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateClassification:
    """Update a classification (`rules:write`); `code` is read-only. A system row keeps its risk level and icon
    (409 RESOURCE_PROTECTED). A stale `revision` → 409 VERSION_CONFLICT. Bumps `rules_revision` (activity,
    priority and risk change what auto-classify produces); audited `classification.update` with the changed
    fields."""

    store: ClassificationStore
    uow: UnitOfWork
    clock: Clock
    trail: WriteTrail

    async def execute(self, data: UpdateClassificationInput) -> ClassificationView:
        data.actor.require(Permission.RULES_WRITE)
        current = await self.store.get_classification(data.classification_id)
        if current is None:
            raise NotFoundError("classification", data.classification_id)
        if data.revision is not None and data.revision != current.revision:
            raise VersionConflictError(current.revision)
        changes = {k: v for k, v in data.changes.items() if k in EDITABLE}
        check_fields(changes)
        if current.is_system and any(k in changes and changes[k] != getattr(current, k) for k in PROTECTED_FIELDS):
            raise ProtectedResourceError("system classifications keep their code, risk level and icon")
        if not changes:
            return current
        updated = await self.store.update_classification(data.classification_id, changes, now=self.clock.now())
        await self.store.bump_rules_revision()
        await self.trail.written(AuditEntry(
            actor=data.actor, action="classification.update", target_type="classification",
            target_id=str(updated.id), changes=field_changes(summary(current), summary(updated))))
        await self.uow.commit()
        return updated


@dataclass(frozen=True, slots=True)
class DeleteClassification:
    """Delete a classification (`rules:write`): system rows → 409 RESOURCE_PROTECTED; with non-deleted rules or
    assignments → 409 CLASSIFICATION_IN_USE (counts in context). Audited `classification.delete`."""

    store: ClassificationStore
    uow: UnitOfWork
    trail: WriteTrail

    async def execute(self, actor: Actor, classification_id: int, revision: int | None = None) -> int:
        actor.require(Permission.RULES_WRITE)
        current = await self.store.get_classification(classification_id)
        if current is None:
            raise NotFoundError("classification", classification_id)
        if revision is not None and revision != current.revision:
            raise VersionConflictError(current.revision)
        if current.is_system:
            raise ProtectedResourceError("system classifications cannot be deleted")
        rules, assignments = await self.store.classification_usage(classification_id)
        if rules or assignments:
            raise ClassificationInUseError(rules, assignments)
        await self.store.delete_classification(classification_id)
        await self.store.bump_rules_revision()
        await self.trail.written(AuditEntry(
            actor=actor, action="classification.delete", target_type="classification",
            target_id=str(classification_id), details={"before": summary(current)}))
        await self.uow.commit()
        return classification_id
