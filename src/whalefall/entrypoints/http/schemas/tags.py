"""Bodies of the tag routes (api.md §2 Tag, §3.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from whalefall.application.instances.tags import ClearReceipt, PairReceipts
from whalefall.application.ports.instances import TagRecord
from whalefall.entrypoints.http.text import TRIMMED

Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")]
DisplayName = Annotated[str, Meta(min_length=1, max_length=128, pattern=TRIMMED)]
Category = Annotated[str, Meta(min_length=1, max_length=64, pattern=TRIMMED)]
Ids500 = Annotated[list[Annotated[int, Meta(ge=1)]], Meta(min_length=1, max_length=500)]
Ids100 = Annotated[list[Annotated[int, Meta(ge=1)]], Meta(min_length=1, max_length=100)]
_READ_ONLY = frozenset({"id", "instance_count", "created_at", "updated_at"})


class TagCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _READ_ONLY | {"revision"}
    name: Name
    display_name: DisplayName
    category: Category
    description: str | None = None
    is_active: bool = True


class TagPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    read_only_fields: ClassVar[frozenset[str]] = _READ_ONLY
    name: Name | UnsetType = UNSET
    display_name: DisplayName | UnsetType = UNSET
    category: Category | UnsetType = UNSET
    description: str | None | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    revision: int | None = None


class TagOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    display_name: str
    category: str
    description: str | None
    is_active: bool
    instance_count: int
    created_at: datetime
    updated_at: datetime
    revision: int

    @classmethod
    def of(cls, r: TagRecord) -> TagOut:
        return cls(id=r.id, name=r.name, display_name=r.display_name, category=r.category,
                   description=r.description, is_active=r.is_active, instance_count=r.instance_count,
                   created_at=r.created_at, updated_at=r.updated_at, revision=r.revision)


class CategoryOut(msgspec.Struct, kw_only=True):
    category: str
    tag_count: int


class TagUnlinkedOut(msgspec.Struct, kw_only=True):
    id: int
    unlinked_count: int


class BulkPairs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    instance_ids: Ids500
    tag_ids: Ids100


class BulkClear(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    instance_ids: Ids500


class PairReceiptOut(msgspec.Struct, kw_only=True):
    instance_id: int
    tag_id: int
    result: str


class PairReceiptsOut(msgspec.Struct, kw_only=True):
    receipts: list[PairReceiptOut]
    totals: dict[str, int]

    @classmethod
    def of(cls, r: PairReceipts) -> PairReceiptsOut:
        return cls(receipts=[PairReceiptOut(instance_id=p.instance_id, tag_id=p.tag_id, result=p.result.value)
                             for p in r.receipts], totals=r.totals)


class ClearReceiptOut(msgspec.Struct, kw_only=True):
    instance_id: int
    result: str
    removed_count: int


class ClearReceiptsOut(msgspec.Struct, kw_only=True):
    receipts: list[ClearReceiptOut]

    @classmethod
    def of(cls, receipts: tuple[ClearReceipt, ...]) -> ClearReceiptsOut:
        return cls(receipts=[ClearReceiptOut(instance_id=r.instance_id, result=r.result,
                                             removed_count=r.removed_count) for r in receipts])
