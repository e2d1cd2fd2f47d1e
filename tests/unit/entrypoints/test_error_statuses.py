"""API legacy defect 21 (api.md §6): the HTTP status is a function of the error code alone, and every code of §1.4
raised through the error families answers exactly the status listed there."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from typing import Final

import whalefall
from whalefall.domain.errors import WhalefallError
from whalefall.entrypoints.http.errors import status_of

#: api.md §1.4, both tables. Codes answered by the HTTP layer itself rather than an exception class
#: (ROUTE_NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, NOT_READY, INTERNAL_ERROR) are
#: covered by tests/integration/http/test_errors.py.
SPEC: Final = {
    "VALIDATION_ERROR": 400, "AUTHENTICATION_REQUIRED": 401, "INVALID_CREDENTIALS": 401, "TOKEN_EXPIRED": 401,
    "TOKEN_INVALID": 401, "TOKEN_REVOKED": 401, "SESSION_EXPIRED": 401, "REFRESH_TOKEN_REUSED": 401,
    "PERMISSION_DENIED": 403, "CSRF_MISSING": 403, "CSRF_INVALID": 403, "ACCOUNT_DISABLED": 403,
    "PASSWORD_CHANGE_REQUIRED": 403, "SELF_MODIFICATION_FORBIDDEN": 403, "INTERACTIVE_AUTH_REQUIRED": 403,
    "RESOURCE_NOT_FOUND": 404, "ALREADY_EXISTS": 409, "RESOURCE_IN_USE": 409, "RESOURCE_PROTECTED": 409,
    "INVALID_STATE": 409, "ALREADY_RUNNING": 409, "VERSION_CONFLICT": 409, "LAST_ADMIN_REQUIRED": 409,
    "IDEMPOTENCY_IN_PROGRESS": 409, "INVALID_REFERENCE": 422, "PIPELINE_INVALID": 422,
    "PASSWORD_POLICY_VIOLATION": 422, "INVALID_CURRENT_PASSWORD": 422, "IMPORT_FILE_INVALID": 422,
    "EXPORT_TOO_LARGE": 422, "IDEMPOTENCY_KEY_REUSED": 422, "UNSUPPORTED_CAPABILITY": 422, "UNPROCESSABLE": 422,
    "RATE_LIMIT_EXCEEDED": 429, "LOGIN_LOCKED": 429, "SERVICE_UNAVAILABLE": 503,
    # Registered by the context specs, each in its family's status.
    "INSTANCE_NAME_TAKEN": 409, "DUPLICATE_ENDPOINT": 409, "CREDENTIAL_IN_USE": 409, "TAG_IN_USE": 409,
    "INSTANCE_INACTIVE": 409, "CREDENTIAL_MISSING": 409, "CREDENTIAL_DB_TYPE_MISMATCH": 422, "RULE_INVALID": 422,
    "RULE_NAME_TAKEN": 409, "RULE_EXPRESSION_DUPLICATED": 409, "CLASSIFICATION_IN_USE": 409, "JOB_RUNNING": 409,
    "PIPELINE_RUNNING": 409, "SESSION_FINISHED": 409, "INVALID_CRON": 422, "NOTHING_TO_RERUN": 422,
    "QUEUE_UNAVAILABLE": 503,
}


def _every_error_class() -> list[type[WhalefallError]]:
    for module in pkgutil.walk_packages(whalefall.__path__, "whalefall."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[WhalefallError]] = []
    pending = [WhalefallError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _status(cls: type[WhalefallError]) -> int:
    return status_of(cls.__new__(cls))


def test_every_spec_code_raised_by_an_error_class_answers_its_listed_status() -> None:
    classes = _every_error_class()
    raised = {cls.code for cls in classes}
    wrong = {(cls.__qualname__, cls.code, _status(cls)) for cls in classes
             if cls.code in SPEC and _status(cls) != SPEC[cls.code]}
    assert wrong == set()
    # The codes owned by the error families themselves are all raised through a class.
    assert {"VALIDATION_ERROR", "PERMISSION_DENIED", "RESOURCE_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED",
            "IDEMPOTENCY_IN_PROGRESS", "JOB_RUNNING", "QUEUE_UNAVAILABLE", "SESSION_EXPIRED"} <= raised


def test_one_code_never_answers_two_statuses() -> None:
    statuses: dict[str, set[int]] = defaultdict(set)
    for cls in _every_error_class():
        if cls is not WhalefallError:
            statuses[cls.code].add(_status(cls))
    assert {code: found for code, found in statuses.items() if len(found) > 1} == {}
