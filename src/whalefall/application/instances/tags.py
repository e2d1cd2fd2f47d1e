"""Tag use cases: CRUD, categories, and bulk assign/remove/clear with per-pair receipts (capacity §1.3)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from whalefall.application.ports.audit import AuditEntry, AuditLog, field_changes
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import Pair, TagQuery, TagRecord, TagRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.application.shared.unset import UNSET, Unset
from whalefall.domain.errors import (
    AlreadyExistsError,
    NotFoundError,
    Problem,
    UnprocessableError,
    ValidationProblemsError,
    VersionConflictError,
)
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import InstanceId, TagId, TagInUseError, has_surrounding_space_or_control

TAG_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_PAIRS: Final = 10_000


def _check_tag_fields(name: str | Unset, display_name: str | Unset, category: str | Unset) -> None:
    problems: list[Problem] = []
    if name is not UNSET and not TAG_NAME.fullmatch(name):
        problems.append(Problem("body.name", "invalid_format", "letters, digits, '_', '.', '-' (≤ 64, starting "
                                                               "with a letter or digit)"))
    if display_name is not UNSET and (not display_name or len(display_name) > 128
                                      or has_surrounding_space_or_control(display_name)):
        problems.append(Problem("body.display_name", "invalid_format", "1–128 characters without surrounding "
                                                                       "whitespace"))
    if category is not UNSET and (not category or len(category) > 64 or has_surrounding_space_or_control(category)):
        problems.append(Problem("body.category", "invalid_format", "1–64 characters without surrounding whitespace"))
    if problems:
        raise ValidationProblemsError(problems)


async def load_tag(tags: TagRepository, tag_id: TagId) -> TagRecord:
    record = await tags.get(tag_id)
    if record is None:
        raise NotFoundError("tag", tag_id)
    return record


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTagInput:
    actor: Actor
    name: str
    display_name: str
    category: str
    description: str | None = None
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class CreateTag:
    """Name unique case-insensitively (409); category stored lower-cased, never trimmed."""

    tags: TagRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: CreateTagInput) -> TagRecord:
        data.actor.require(Permission.TAGS_WRITE)
        _check_tag_fields(data.name, data.display_name, data.category)
        if await self.tags.name_taken(data.name):
            raise AlreadyExistsError("body.name", "a tag with this name already exists")
        tag_id = await self.tags.add({"name": data.name, "display_name": data.display_name,
                                      "category": data.category.lower(), "description": data.description,
                                      "is_active": data.is_active}, at=self.clock.now())
        await self.audit.record(AuditEntry(actor=data.actor, action="tag.create", target_type="tag",
                                           target_id=str(tag_id), details={"name": data.name}))
        await self.uow.commit()
        return await load_tag(self.tags, tag_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateTagInput:
    actor: Actor
    tag_id: TagId
    name: str | Unset = UNSET
    display_name: str | Unset = UNSET
    category: str | Unset = UNSET
    description: str | None | Unset = UNSET
    is_active: bool | Unset = UNSET
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateTag:
    tags: TagRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: UpdateTagInput) -> TagRecord:
        data.actor.require(Permission.TAGS_WRITE)
        current = await load_tag(self.tags, data.tag_id)
        if data.revision is not None and data.revision != current.revision:
            raise VersionConflictError(current.revision)
        _check_tag_fields(data.name, data.display_name, data.category)
        if data.name is not UNSET and data.name.lower() != current.name.lower() and await self.tags.name_taken(
                data.name, exclude=current.id):
            raise AlreadyExistsError("body.name", "a tag with this name already exists")
        after = {key: value for key, value in {
            "name": data.name, "display_name": data.display_name,
            "category": data.category.lower() if data.category is not UNSET else UNSET,
            "description": data.description, "is_active": data.is_active}.items() if value is not UNSET}
        before = {"name": current.name, "display_name": current.display_name, "category": current.category,
                  "description": current.description, "is_active": current.is_active}
        changes = field_changes(before, after)
        if changes:
            await self.tags.update(current.id, after, at=self.clock.now())
            await self.audit.record(AuditEntry(actor=data.actor, action="tag.update", target_type="tag",
                                               target_id=str(current.id), changes=changes))
            await self.uow.commit()
        return await load_tag(self.tags, current.id)


@dataclass(frozen=True, slots=True)
class DeleteTag:
    """Linked → 409 TAG_IN_USE (with the link count) unless `force` (system:manage), which removes the links in the
    same transaction and audits the count."""

    tags: TagRepository
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, tag_id: TagId, *, force: bool = False, revision: int | None = None) -> int:
        actor.require(Permission.TAGS_WRITE)
        if force:
            actor.require(Permission.SYSTEM_MANAGE)
        current = await load_tag(self.tags, tag_id)
        if revision is not None and revision != current.revision:
            raise VersionConflictError(current.revision)
        links = await self.tags.link_count(current.id)
        if links and not force:
            raise TagInUseError("The tag is assigned to instances", context={"link_count": links})
        unlinked = await self.tags.unlink_all(current.id) if links else 0
        await self.tags.delete(current.id)
        await self.audit.record(AuditEntry(actor=actor, action="tag.delete", target_type="tag",
                                           target_id=str(current.id),
                                           details={"name": current.name, "unlinked_count": unlinked}))
        await self.uow.commit()
        return unlinked


@dataclass(frozen=True, slots=True)
class GetTag:
    tags: TagRepository

    async def execute(self, actor: Actor, tag_id: TagId) -> TagRecord:
        actor.require(Permission.INSTANCES_READ)
        return await load_tag(self.tags, tag_id)


@dataclass(frozen=True, slots=True)
class ListTags:
    tags: TagRepository

    async def execute(self, actor: Actor, query: TagQuery, page: PageRequest) -> Page[TagRecord]:
        actor.require(Permission.INSTANCES_READ)
        return await self.tags.list_page(query, page)


@dataclass(frozen=True, slots=True)
class ListTagCategories:
    tags: TagRepository

    async def execute(self, actor: Actor, page: PageRequest) -> Page[tuple[str, int]]:
        actor.require(Permission.INSTANCES_READ)
        return await self.tags.categories(page)


class PairResult(StrEnum):
    ASSIGNED = "assigned"
    ALREADY_PRESENT = "already_present"
    REMOVED = "removed"
    NOT_PRESENT = "not_present"
    MISSING_INSTANCE = "missing_instance"
    MISSING_TAG = "missing_tag"


@dataclass(frozen=True, slots=True)
class PairReceipt:
    instance_id: InstanceId
    tag_id: TagId
    result: PairResult


@dataclass(frozen=True, slots=True)
class PairReceipts:
    receipts: tuple[PairReceipt, ...]
    totals: dict[str, int]


def plan_pairs(instance_ids: Sequence[InstanceId], tag_ids: Sequence[TagId]) -> list[Pair]:
    """Every (instance, tag) pair in request order, duplicates ignored; more than 10 000 → 422."""
    instances = list(dict.fromkeys(instance_ids))
    tags = list(dict.fromkeys(tag_ids))
    if len(instances) * len(tags) > MAX_PAIRS:
        raise UnprocessableError(f"At most {MAX_PAIRS} instance×tag pairs per request",
                                 problems=[Problem("body", "too_many_items", "too many instance×tag pairs",
                                                   {"max": MAX_PAIRS})])
    return [(i, t) for i in instances for t in tags]


def _receipts(pairs: list[Pair], done: set[Pair], live: set[InstanceId], known: set[TagId],
              hit: PairResult, miss: PairResult, keys: tuple[PairResult, ...]) -> PairReceipts:
    receipts = []
    for instance_id, tag_id in pairs:
        if instance_id not in live:
            result = PairResult.MISSING_INSTANCE
        elif tag_id not in known:
            result = PairResult.MISSING_TAG
        else:
            result = hit if (instance_id, tag_id) in done else miss
        receipts.append(PairReceipt(instance_id, tag_id, result))
    counts = Counter(r.result for r in receipts)
    return PairReceipts(tuple(receipts), {key.value: counts.get(key, 0) for key in keys})


@dataclass(frozen=True, slots=True)
class BulkAssignTags:
    """One receipt per requested pair; existing links are reported, never rewritten; unknown or deleted instances
    and unknown tags are receipts, not errors. Concurrent assigns of one pair: exactly one `assigned`."""

    tags: TagRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_ids: Sequence[InstanceId], tag_ids: Sequence[TagId]) -> PairReceipts:
        actor.require(Permission.TAGS_WRITE)
        pairs = plan_pairs(instance_ids, tag_ids)
        live = await self.tags.live_instance_ids(list({p[0] for p in pairs}))
        known = await self.tags.existing_ids(list({p[1] for p in pairs}))
        candidates = [p for p in pairs if p[0] in live and p[1] in known]
        inserted = await self.tags.link_missing(candidates, at=self.clock.now(), by=actor.user_id)
        outcome = _receipts(pairs, inserted, live, known, PairResult.ASSIGNED, PairResult.ALREADY_PRESENT,
                            (PairResult.ASSIGNED, PairResult.ALREADY_PRESENT, PairResult.MISSING_INSTANCE,
                             PairResult.MISSING_TAG))
        await self.audit.record(AuditEntry(actor=actor, action="tag.bulk_assign", details={"totals": outcome.totals}))
        await self.uow.commit()
        return outcome


@dataclass(frozen=True, slots=True)
class BulkRemoveTags:
    """DELETE … RETURNING; receipts removed / not_present / missing_instance / missing_tag."""

    tags: TagRepository
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_ids: Sequence[InstanceId], tag_ids: Sequence[TagId]) -> PairReceipts:
        actor.require(Permission.TAGS_WRITE)
        pairs = plan_pairs(instance_ids, tag_ids)
        live = await self.tags.live_instance_ids(list({p[0] for p in pairs}))
        known = await self.tags.existing_ids(list({p[1] for p in pairs}))
        removed = await self.tags.unlink([p for p in pairs if p[0] in live and p[1] in known])
        outcome = _receipts(pairs, removed, live, known, PairResult.REMOVED, PairResult.NOT_PRESENT,
                            (PairResult.REMOVED, PairResult.NOT_PRESENT, PairResult.MISSING_INSTANCE,
                             PairResult.MISSING_TAG))
        await self.audit.record(AuditEntry(actor=actor, action="tag.bulk_remove", details={"totals": outcome.totals}))
        await self.uow.commit()
        return outcome


@dataclass(frozen=True, slots=True)
class ClearReceipt:
    instance_id: InstanceId
    result: str
    removed_count: int


@dataclass(frozen=True, slots=True)
class BulkClearTags:
    """Removes all tags of each instance; `missing_instance` for unknown or deleted ids."""

    tags: TagRepository
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, instance_ids: Sequence[InstanceId]) -> tuple[ClearReceipt, ...]:
        actor.require(Permission.TAGS_WRITE)
        ordered = list(dict.fromkeys(instance_ids))
        live = await self.tags.live_instance_ids(ordered)
        removed = await self.tags.clear([i for i in ordered if i in live])
        receipts = tuple(ClearReceipt(i, "cleared", removed.get(i, 0)) if i in live
                         else ClearReceipt(i, "missing_instance", 0) for i in ordered)
        await self.audit.record(AuditEntry(actor=actor, action="tag.bulk_clear", details={
            "cleared": sum(1 for r in receipts if r.result == "cleared"),
            "removed_count": sum(r.removed_count for r in receipts)}))
        await self.uow.commit()
        return receipts
