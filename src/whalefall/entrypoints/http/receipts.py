"""Queued actions (api.md §1.13): the body's Selection read, and the answer: the session receipt, 202 with `Location`
pointing at the session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec
from litestar import Request, Response

from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.instance_selection import InstanceSelection
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.http.envelope import Envelope, ok

SESSIONS_PATH = "/api/v1/sync-sessions"


class SessionReceiptOut(msgspec.Struct, kw_only=True):
    session_id: str
    kind: str
    scope: str
    status: str
    record_count: int
    status_url: str

    @classmethod
    def of(cls, session: SessionView) -> SessionReceiptOut:
        return cls(session_id=session.id, kind=session.kind.value, scope=session.scope.value,
                   status=session.status.value, record_count=session.total,
                   status_url=f"{SESSIONS_PATH}/{session.id}")


def session_receipt(request: Request[Any, Any, Any], session: SessionView, *,
                    message: str = "Queued") -> Response[Envelope[SessionReceiptOut]]:
    """202 with the receipt in `data` and `Location: /api/v1/sync-sessions/{id}`."""
    receipt = SessionReceiptOut.of(session)
    return ok(request, receipt, message=message, status_code=202, location=receipt.status_url)


class SelectionBody(Protocol):
    """A request body carrying the api.md §1.13 Selection fields (absent = not given)."""

    @property
    def instance_ids(self) -> Sequence[int] | None: ...
    @property
    def db_types(self) -> Sequence[DbEngine] | None: ...
    @property
    def tags_any(self) -> Sequence[str] | None: ...
    @property
    def tags_all(self) -> Sequence[str] | None: ...


def selection_of(body: SelectionBody) -> InstanceSelection:
    """The body's Selection for the use case: absent `instance_ids` stays absent (fleet), absent filters → none."""
    return InstanceSelection(
        instance_ids=tuple(body.instance_ids) if body.instance_ids is not None else None,
        db_types=frozenset(body.db_types or ()), tags_any=frozenset(body.tags_any or ()),
        tags_all=frozenset(body.tags_all or ()))
