"""Query helpers shared by repositories: paging, sorting, substring search and unique-violation translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.unit_of_work import constraint_of
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import WhalefallError

T = TypeVar("T")


def contains_ci(columns: Sequence[ColumnElement[Any]], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on any column; `%`, `_` and `\\` in `text` are literal."""
    needle = text.lower()
    return or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))


def order_by(statement: Select[Any], page: PageRequest, columns: Mapping[str, ColumnElement[Any]],
             tiebreaker: ColumnElement[Any]) -> Select[Any]:
    """Apply the page's sort keys (NULLs last ascending, first descending on both dialects) and `id` last."""
    clauses: list[ColumnElement[Any]] = []
    for key in page.sort:
        column = columns[key.field]
        clauses.append(column.is_(None).asc() if not key.descending else column.is_(None).desc())
        clauses.append(column.desc() if key.descending else column.asc())
    return statement.order_by(*clauses, tiebreaker.asc())


async def fetch_page(connection: AsyncConnection, statement: Select[Any], page: PageRequest,
                     columns: Mapping[str, ColumnElement[Any]], tiebreaker: ColumnElement[Any],
                     convert: Callable[[Any], T]) -> tuple[list[T], int]:
    """Exact total of the filtered statement plus one page of converted rows."""
    total = (await connection.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    ordered = order_by(statement, page, columns, tiebreaker).limit(page.limit).offset(page.offset)
    rows = (await connection.execute(ordered)).mappings().all()
    return [convert(row) for row in rows], int(total)


def make_page(items: Sequence[T], total: int, page: PageRequest) -> Page[T]:
    return Page(tuple(items), total, page.page, page.limit)


def translate_unique(exc: IntegrityError, errors: Mapping[str, Callable[[], WhalefallError]]) -> WhalefallError | None:
    """The port error for a violated unique index named in `errors`, matched in the constraint name or message."""
    text = constraint_of(exc)
    for name, factory in errors.items():
        if name in text:
            return factory()
    return None
