"""Password policy (api.md §4.4): length after NFKC, not the username, not the current password."""

from __future__ import annotations

import unicodedata
from typing import Final

from whalefall.domain.errors import Problem, UnprocessableError

MIN_LENGTH_FLOOR: Final = 8
MAX_LENGTH: Final = 256


class PasswordPolicyViolationError(UnprocessableError):
    """The new password breaks the policy; one problem per broken rule."""

    code = "PASSWORD_POLICY_VIOLATION"
    default_message = "The password does not meet the password policy"


def check_password_policy(
    password: str,
    *,
    username: str,
    field_path: str,
    min_length: int = 12,
    current_password: str | None = None,
) -> list[Problem]:
    """Every broken rule as a Problem (empty list = acceptable). No composition rules by design."""
    minimum = max(min_length, MIN_LENGTH_FLOOR)
    normalized = unicodedata.normalize("NFKC", password)
    problems: list[Problem] = []
    if len(normalized) < minimum:
        problems.append(Problem(field_path, "too_short", f"must be at least {minimum} characters",
                                {"min": minimum}))
    if len(normalized) > MAX_LENGTH:
        problems.append(Problem(field_path, "too_long", f"must be at most {MAX_LENGTH} characters",
                                {"max": MAX_LENGTH}))
    if username and username.casefold() in normalized.casefold():
        problems.append(Problem(field_path, "policy", "must not contain the username"))
    if current_password is not None and normalized == unicodedata.normalize("NFKC", current_password):
        problems.append(Problem(field_path, "policy", "must differ from the current password"))
    return problems


def require_password_policy(password: str, *, username: str, field_path: str, min_length: int = 12,
                            current_password: str | None = None) -> str:
    """The NFKC-normalised password, or PasswordPolicyViolationError listing every broken rule."""
    problems = check_password_policy(password, username=username, field_path=field_path, min_length=min_length,
                                     current_password=current_password)
    if problems:
        raise PasswordPolicyViolationError(problems=problems)
    return unicodedata.normalize("NFKC", password)
