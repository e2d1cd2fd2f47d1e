"""The error root of whalefall and the families every layer raises from (STYLE.md §6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem with an input: `field` is a field path (`body.port`) or None when not tied to one input."""

    field: str | None
    code: str
    message: str
    context: Mapping[str, object] | None = None


class WhalefallError(Exception):
    """Root of every whalefall error. `code` is the API's UPPER_SNAKE code; `problems` become error details."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Unexpected error"

    def __init__(
        self,
        message: str | None = None,
        *,
        problems: Sequence[Problem] = (),
        context: Mapping[str, object] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.context: Mapping[str, object] = dict(context or {})
        super().__init__(self.message)


class NotFoundError(WhalefallError):
    """The named resource does not exist (or was purged)."""

    code = "RESOURCE_NOT_FOUND"
    default_message = "The resource does not exist"

    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(f"{resource} {identifier} does not exist", context={"resource": resource})
        self.resource = resource
        self.identifier = identifier


class AlreadyExistsError(WhalefallError):
    """A unique key is taken; the first problem names the field."""

    code = "ALREADY_EXISTS"
    default_message = "The resource already exists"

    def __init__(self, field_path: str, message: str | None = None) -> None:
        text = message or f"{field_path.rsplit('.', maxsplit=1)[-1]} is already taken"
        super().__init__(text, problems=[Problem(field_path, "duplicate", text)])
        self.field_path = field_path


class InUseError(WhalefallError):
    """A delete was refused because something still refers to the resource."""

    code = "RESOURCE_IN_USE"
    default_message = "The resource is in use"

    def __init__(self, message: str | None = None, *, context: Mapping[str, object] | None = None) -> None:
        super().__init__(message, problems=[Problem(None, "in_use", message or self.default_message, context)])


class InvalidStateError(WhalefallError):
    """The action is not allowed in the resource's current state."""

    code = "INVALID_STATE"
    default_message = "Not allowed in the current state"


class ProtectedResourceError(InvalidStateError):
    """A built-in or system item cannot be deleted or have protected fields changed."""

    code = "RESOURCE_PROTECTED"
    default_message = "The resource is protected"


class VersionConflictError(InvalidStateError):
    """The `revision` sent is not the current one."""

    code = "VERSION_CONFLICT"
    default_message = "The resource was changed by someone else"

    def __init__(self, current_revision: int) -> None:
        context = {"current_revision": current_revision}
        super().__init__(
            problems=[Problem("revision", "version_conflict", "revision is not current", context)],
            context=context,
        )
        self.current_revision = current_revision


class LastAdminRequiredError(InvalidStateError):
    """The change would leave no active admin."""

    code = "LAST_ADMIN_REQUIRED"
    default_message = "At least one active admin must remain"


class PermissionDeniedError(WhalefallError):
    """The principal lacks a permission; `context.permission` names it."""

    code = "PERMISSION_DENIED"
    default_message = "You do not have permission to do this"

    def __init__(self, permission: str | None = None, *, field_path: str | None = None,
                 message: str | None = None) -> None:
        context = {"permission": permission} if permission else None
        text = message or (f"requires permission {permission}" if permission else self.default_message)
        super().__init__(text, problems=[Problem(field_path, "permission_denied", text, context)])
        self.permission = permission


class SelfModificationForbiddenError(PermissionDeniedError):
    """Changing one's own role or active flag, deleting or resetting oneself through /users."""

    code = "SELF_MODIFICATION_FORBIDDEN"
    default_message = "You cannot change your own role, active flag or password here"

    def __init__(self, field_path: str | None = None) -> None:
        super().__init__(None, field_path=field_path, message=self.default_message)


class UnprocessableError(WhalefallError):
    """A domain rule refused the request (HTTP 422)."""

    code = "UNPROCESSABLE"
    default_message = "The request cannot be processed"


class InvalidReferenceError(UnprocessableError):
    """The body refers to something that does not exist or may not be used."""

    code = "INVALID_REFERENCE"
    default_message = "The request refers to something that does not exist or may not be used"


class UnsupportedCapabilityError(UnprocessableError):
    """The engine or the metadata store cannot do this."""

    code = "UNSUPPORTED_CAPABILITY"
    default_message = "Not supported here"


class ValidationProblemsError(WhalefallError):
    """The input does not match its schema; one problem per bad field (HTTP 400)."""

    code = "VALIDATION_ERROR"
    default_message = "The request is invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems=problems)
