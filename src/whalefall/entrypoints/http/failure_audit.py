"""Audit events with outcome `failure` for writes that fail after authorization (operations.md §6, api.md §4.9).

A write refused by authorization is audited `denied` by the guard. A write that passed it and then answers 409 or
5xx is audited `failure` here, in its own transaction: the request's unit of work is rolled back first, so a
success event built before the failure (and the change it describes) never commits, and only this event remains.
Validation failures (400/422) are not audited; replayed idempotent answers are not exceptions, so they are not
audited again.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.types import Scope

from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.idempotency import IdempotencyInProgressError
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import WhalefallError
from whalefall.entrypoints.http.errors import status_of

logger = logging.getLogger(__name__)

UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HANDLER: Final = "whalefall.audited_write"


def mark_authorized_write(request: Request[Any, Any, Any]) -> None:
    """before_request (it runs after the guard): remember the handler of an authorized, authenticated write."""
    if request.method in UNSAFE and request.route_handler.opt.get("permission") not in (None, "public"):
        request.scope.setdefault("state", {})[_HANDLER] = request.route_handler.handler_name


def _status(exc: Exception) -> int:
    if isinstance(exc, WhalefallError):
        return status_of(exc)
    if isinstance(exc, HTTPException):
        return int(exc.status_code)
    return 500


async def audit_failed_write(exc: Exception, scope: Scope) -> None:
    """after_exception hook (it runs inside the request's container, before the error answer is built): a 409 or
    5xx answer to an authorized write records the failure event. A key still in progress is not a failed write."""
    status = _status(exc)
    if not (status == 409 or status >= 500) or isinstance(exc, IdempotencyInProgressError):
        return
    state: dict[str, Any] = scope.get("state", {})
    handler = state.get(_HANDLER)
    container = state.get("dishka_container")
    if handler is None or container is None:
        return
    try:
        uow: UnitOfWork = await container.get(UnitOfWork)
        await uow.rollback()
        actor: Actor = await container.get(Actor)
        audit: AuditLog = await container.get(AuditLog)
        await audit.record(AuditEntry(actor=actor, action=f"http.{handler}", outcome=AuditOutcome.FAILURE,
                                      details={"status": status, "path": scope.get("path", "")}))
        await uow.commit()
    except Exception:  # the answer is already decided; a store that is down cannot take the event either
        logger.warning("audit.failure_event_not_written", extra={"handler": handler}, exc_info=True)
