"""Paging and sorting requests and pages (api.md §1.8–1.9)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from whalefall.domain.errors import Problem, ValidationProblemsError

T = TypeVar("T")
MAX_LIMIT: Final = 200


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class PageRequest:
    """1-based page, limit 1–200 and sort keys (already validated against the route's allowed fields)."""

    page: int = 1
    limit: int = 20
    sort: tuple[SortKey, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    page: int
    limit: int

    @property
    def pages(self) -> int:
        return (self.total + self.limit - 1) // self.limit if self.total else 0


def parse_sort(text: str | None, *, allowed: Sequence[str], default: str) -> tuple[SortKey, ...]:
    """`-a,b` → sort keys; unknown fields → 400 `unknown_sort_field` with the allowed list."""
    keys: list[SortKey] = []
    for part in (text if text is not None else default).split(","):
        name = part.strip()
        descending = name.startswith("-")
        name = name.removeprefix("-")
        if name not in allowed:
            raise ValidationProblemsError([Problem("query.sort", "unknown_sort_field",
                                                   f"cannot sort by {name!r}", {"allowed": list(allowed)})])
        keys.append(SortKey(name, descending))
    return tuple(keys)
