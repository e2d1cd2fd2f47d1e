"""Text patterns shared by request schemas."""

from typing import Final

#: Names are never trimmed: no leading/trailing whitespace and no control characters (api.md §1.6).
TRIMMED: Final = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?\Z"
