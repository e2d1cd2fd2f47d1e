"""A typed sentinel for PATCH inputs: absent field (UNSET) differs from an explicit null (None)."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal


class _Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False


Unset = Literal[_Unset.UNSET]
UNSET: Final = _Unset.UNSET
