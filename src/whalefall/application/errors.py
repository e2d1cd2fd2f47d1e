"""Application-only errors: authentication, rate limits, run guards, queue and store availability."""

from __future__ import annotations

from collections.abc import Mapping

from whalefall.domain.errors import InvalidStateError, Problem, WhalefallError


class AuthenticationError(WhalefallError):
    """No valid credentials (HTTP 401)."""

    code = "AUTHENTICATION_REQUIRED"
    default_message = "Authentication is required"


class InvalidCredentialsError(AuthenticationError):
    """Login failed; identical for unknown user and wrong password."""

    code = "INVALID_CREDENTIALS"
    default_message = "Invalid username or password"


class TokenExpiredError(AuthenticationError):
    code = "TOKEN_EXPIRED"
    default_message = "The access token has expired"


class TokenInvalidError(AuthenticationError):
    code = "TOKEN_INVALID"
    default_message = "The token is invalid"


class TokenRevokedError(AuthenticationError):
    code = "TOKEN_REVOKED"
    default_message = "The token has been revoked"


class RefreshTokenReusedError(AuthenticationError):
    code = "REFRESH_TOKEN_REUSED"
    default_message = "The refresh token was already used; its whole family is now revoked"


class AccountDisabledError(WhalefallError):
    """Correct password for a disabled user (HTTP 403)."""

    code = "ACCOUNT_DISABLED"
    default_message = "The account is disabled"


class PasswordChangeRequiredError(WhalefallError):
    """The user must change the password before doing anything else (HTTP 403)."""

    code = "PASSWORD_CHANGE_REQUIRED"
    default_message = "You must change your password first"


class InteractiveAuthRequiredError(WhalefallError):
    """An API token was used where a login is required (HTTP 403)."""

    code = "INTERACTIVE_AUTH_REQUIRED"
    default_message = "This action requires an interactive login"


class RateLimitedError(WhalefallError):
    """Too many requests (HTTP 429); `retry_after_s` becomes the Retry-After header."""

    code = "RATE_LIMIT_EXCEEDED"
    default_message = "Too many requests"

    def __init__(self, retry_after_s: int, message: str | None = None) -> None:
        super().__init__(message, context={"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class LoginLockedError(RateLimitedError):
    code = "LOGIN_LOCKED"
    default_message = "Too many failed logins; try again later"


class AlreadyRunningError(InvalidStateError):
    """An overlapping run is pending or running; context holds its id."""

    code = "ALREADY_RUNNING"
    default_message = "An overlapping run is already in progress"

    def __init__(self, message: str | None = None, *, context: Mapping[str, object] | None = None) -> None:
        super().__init__(message, problems=[Problem(None, "already_running", message or self.default_message,
                                                    context)], context=context)


class StoreUnavailableError(WhalefallError):
    """The metadata store cannot be reached (HTTP 503)."""

    code = "SERVICE_UNAVAILABLE"
    default_message = "The service is temporarily unavailable"


class QueueUnavailableError(StoreUnavailableError):
    """The broker cannot be reached; nothing was created (HTTP 503)."""

    code = "QUEUE_UNAVAILABLE"
    default_message = "The task queue is unavailable; nothing was started"
