"""PATCH helpers: msgspec's UNSET (absent field) becomes the application's UNSET."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from whalefall.application.shared.unset import UNSET, Unset

T = TypeVar("T")


def given(value: T | msgspec.UnsetType) -> T | Unset:
    """The value, or the application's UNSET when the field was absent from the body."""
    return UNSET if isinstance(value, msgspec.UnsetType) else value


def given_or_none(value: T | msgspec.UnsetType) -> T | None:
    """The value, or None when absent (for inputs where None already means "unchanged")."""
    return None if isinstance(value, msgspec.UnsetType) else value
