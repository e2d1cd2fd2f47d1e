"""CSV cells and rows of exports and imports (api.md §5.1): RFC 4180, CRLF, and the reversible formula guard."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Final

from whalefall.domain.errors import Problem, UnprocessableError

BOM: Final = "\ufeff"
_EXPORT_GUARD: Final = re.compile(r"^'*[=+\-@\t\r]")
_IMPORT_GUARD: Final = re.compile(r"^'+[=+\-@\t\r]")

CellValue = str | int | float | bool | datetime | date | dict[str, object] | list[object] | None


class ExportTooLargeError(UnprocessableError):
    """The export would exceed the row cap (`WHALEFALL_EXPORT_MAX_ROWS`); nothing was sent."""

    code = "EXPORT_TOO_LARGE"
    default_message = "The export has too many rows; narrow the filters"

    def __init__(self, rows: int, max_rows: int) -> None:
        super().__init__(problems=[Problem(None, "too_many_rows", f"{rows} rows match; at most {max_rows} allowed",
                                           {"max": max_rows, "rows": rows})])
        self.rows = rows
        self.max_rows = max_rows


def guard_text(value: str) -> str:
    """Export side: one extra leading `'` when the text matches `^'*[=+\\-@\\t\\r]`."""
    return "'" + value if _EXPORT_GUARD.match(value) else value


def unguard_text(value: str) -> str:
    """Import side: one leading `'` removed when the cell matches `^'+[=+\\-@\\t\\r]` (exact inverse of the guard)."""
    return value[1:] if _IMPORT_GUARD.match(value) else value


def format_instant(value: datetime) -> str:
    """RFC 3339 UTC with `Z`; fractional seconds only when non-zero (api.md §1.11)."""
    moment = value.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def export_cell(value: CellValue) -> str:
    """One cell: null → empty, booleans `true`/`false`, numbers as is, instants in UTC `Z`, dates ISO, objects and
    lists as compact JSON; only text (including JSON text) goes through the formula guard."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return guard_text(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str))
    return guard_text(value)


def encode_csv(header: Sequence[str], rows: Iterable[Sequence[CellValue]], *, bom: bool = False) -> Iterator[str]:
    """The file as chunks (header first, one chunk per row), CRLF line ends, minimal RFC 4180 quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield (BOM if bom else "") + _take(buffer)
    for row in rows:
        writer.writerow([export_cell(value) for value in row])
        yield _take(buffer)


def decode_csv(text: str) -> list[list[str]]:
    """Rows of a CSV text (CRLF or LF, optional BOM) with the import side of the formula guard applied."""
    reader = csv.reader(io.StringIO(text.removeprefix(BOM), newline=""))
    return [[unguard_text(cell) for cell in row] for row in reader]


def _take(buffer: io.StringIO) -> str:
    chunk = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return chunk
