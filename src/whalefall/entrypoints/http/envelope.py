"""The success and error envelopes of api.md §1.2–1.3 and helpers that build responses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from litestar import Request, Response

from whalefall.application.ports.clock import Clock
from whalefall.application.shared.paging import Page

T = TypeVar("T")
U = TypeVar("U")


class WarningOut(msgspec.Struct, kw_only=True):
    code: str
    field: str | None
    message: str


class MetaOut(msgspec.Struct, kw_only=True):
    warnings: list[WarningOut]


class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    """Success envelope: `data` always present; `meta` only when non-empty."""

    success: bool = True
    error: bool = False
    message: str
    timestamp: datetime
    data: T
    meta: MetaOut | msgspec.UnsetType = msgspec.UNSET


class ErrorDetailOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    field: str | None
    code: str
    message: str
    context: dict[str, Any] | None = None


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    success: bool = False
    error: bool = True
    message: str
    timestamp: datetime
    code: str
    details: list[ErrorDetailOut]
    request_id: str


class PageOut(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    total: int
    page: int
    limit: int
    pages: int


class DeletedOut(msgspec.Struct, kw_only=True):
    id: int
    deleted_at: datetime


class IdOut(msgspec.Struct, kw_only=True):
    id: int


def server_time(request: Request[Any, Any, Any]) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


def ok(request: Request[Any, Any, Any], data: T, *, message: str = "OK", status_code: int = 200,
       location: str | None = None, warnings: Sequence[WarningOut] = ()) -> Response[Envelope[T]]:
    """A success response; `location` adds the Location header (201 and 202)."""
    meta: MetaOut | msgspec.UnsetType = MetaOut(warnings=list(warnings)) if warnings else msgspec.UNSET
    headers = {"Location": location} if location else None
    return Response(Envelope(message=message, timestamp=server_time(request), data=data, meta=meta),
                    status_code=status_code, headers=headers)


def page_out(page: Page[U], convert: Callable[[U], T]) -> PageOut[T]:
    return PageOut(items=[convert(item) for item in page.items], total=page.total, page=page.page,
                   limit=page.limit, pages=page.pages)
