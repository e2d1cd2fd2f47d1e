"""The instance CSV file (api.md §5.2–5.3): columns, export cells, and parsing an import into typed rows.

Export and import are exact inverses: text cells go through the formula guard of `shared.csv_codec`, an empty
cell is null, booleans are `true`/`false`, tags are `;`-separated names.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from whalefall.application.ports.instances import InstanceRecord
from whalefall.application.shared.csv_codec import BOM, CellValue, unguard_text
from whalefall.domain.errors import Problem, UnprocessableError
from whalefall.domain.instances import DbEngine

COLUMNS: Final = ("name", "db_type", "host", "port", "database_name", "description", "credential_name",
                  "is_active", "tags", "capacity_limit_bytes", "collect_table_sizes")
REQUIRED_COLUMNS: Final = ("name", "db_type", "host")
MAX_ROWS: Final = 10_000
_INTEGER: Final = re.compile(r"^-?\d{1,18}$")


class ImportFileInvalidError(UnprocessableError):
    """A file-level problem (encoding, header, row count): nothing was read (HTTP 422)."""

    code = "IMPORT_FILE_INVALID"
    default_message = "The CSV file cannot be imported"


def export_row(record: InstanceRecord) -> list[CellValue]:
    """One instance in the column order of `COLUMNS`."""
    return [record.name, record.db_type.value, record.host, record.port, record.database_name, record.description,
            record.credential.name if record.credential else None, record.is_active,
            ";".join(tag.name for tag in record.tags) or None, record.capacity_limit_bytes,
            record.collect_table_sizes]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportRow:
    """One data row: `line` is its file line number (the header is line 1); `present` names the columns the file
    has, so an absent optional column leaves the stored value alone. `problems` use the column as field."""

    line: int
    name: str
    present: frozenset[str]
    db_type: DbEngine | None = None
    host: str = ""
    port: int | None = None
    database_name: str | None = None
    description: str | None = None
    credential_name: str | None = None
    is_active: bool = True
    tags: tuple[str, ...] = ()
    capacity_limit_bytes: int | None = None
    collect_table_sizes: bool = False
    problems: list[Problem] = field(default_factory=list)


def _problem(column: str, code: str, message: str) -> Problem:
    return Problem(column, code, message)


def _boolean(text: str, column: str, default: bool, problems: list[Problem]) -> bool:
    if text == "":
        return default
    if text not in ("true", "false"):
        problems.append(_problem(column, "invalid_type", "must be true or false"))
        return default
    return text == "true"


def _integer(text: str, column: str, problems: list[Problem], *, minimum: int) -> int | None:
    if text == "":
        return None
    if not _INTEGER.match(text):
        problems.append(_problem(column, "invalid_type", "must be an integer"))
        return None
    value = int(text)
    if value < minimum:
        problems.append(Problem(column, "too_small", f"must be at least {minimum}", {"min": minimum}))
        return None
    return value


def parse_row(line: int, cells: dict[str, str]) -> ImportRow:
    """Type every cell; problems are collected per column (none stops the others)."""
    problems: list[Problem] = []

    def text(column: str) -> str:
        return cells.get(column, "")

    name = text("name")
    if not name:
        problems.append(_problem("name", "required", "the name is required"))
    db_type: DbEngine | None = None
    if not text("db_type"):
        problems.append(_problem("db_type", "required", "the engine is required"))
    elif text("db_type") not in {e.value for e in DbEngine}:
        problems.append(Problem("db_type", "invalid_choice", "unknown engine",
                                {"allowed": [e.value for e in DbEngine]}))
    else:
        db_type = DbEngine(text("db_type"))
    if not text("host"):
        problems.append(_problem("host", "required", "the host is required"))
    tags = tuple(tag for tag in text("tags").split(";") if tag) if text("tags") else ()
    return ImportRow(
        line=line, name=name, present=frozenset(cells), db_type=db_type, host=text("host"),
        port=_integer(text("port"), "port", problems, minimum=-(2**31)),
        database_name=text("database_name") or None, description=text("description") or None,
        credential_name=text("credential_name") or None,
        is_active=_boolean(text("is_active"), "is_active", True, problems), tags=tags,
        capacity_limit_bytes=_integer(text("capacity_limit_bytes"), "capacity_limit_bytes", problems, minimum=0),
        collect_table_sizes=_boolean(text("collect_table_sizes"), "collect_table_sizes", False, problems),
        problems=problems)


def read_import(content: bytes, *, max_rows: int = MAX_ROWS) -> list[ImportRow]:
    """Decode (UTF-8, optional BOM), check the header and the row count, and parse every data row. File-level
    problems raise ImportFileInvalidError with `file` / `file.header.<column>` details. Blank lines are skipped;
    a name on several rows fails on each of them (`duplicate_in_file`)."""
    try:
        text = content.decode("utf-8").removeprefix(BOM)
    except UnicodeDecodeError as exc:
        raise ImportFileInvalidError(problems=[Problem("file", "encoding", "the file is not UTF-8")]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileInvalidError(problems=[Problem("file", "no_rows", "the file is empty")])
        problems = _header_problems(header)
        if problems:
            raise ImportFileInvalidError(problems=problems)
        rows: list[ImportRow] = []
        line = reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= max_rows:
                raise ImportFileInvalidError(problems=[Problem(
                    "file", "too_many_rows", f"at most {max_rows} data rows", {"max": max_rows})])
            cells = {column: unguard_text(record[i]) if i < len(record) else "" for i, column in enumerate(header)}
            row = parse_row(start, cells)
            if len(record) != len(header):
                row.problems.append(Problem(None, "column_count", f"expected {len(header)} cells, got {len(record)}"))
            rows.append(row)
    except csv.Error as exc:
        raise ImportFileInvalidError(problems=[Problem("file", "invalid_format", "the file is not valid CSV")]) from exc
    if not rows:
        raise ImportFileInvalidError(problems=[Problem("file", "no_rows", "the file has no data rows")])
    _mark_duplicates(rows)
    return rows


def _header_problems(header: Sequence[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for column in header:
        if column in seen:
            problems.append(Problem(f"file.header.{column}", "duplicate_column", "the column appears twice"))
        elif column not in COLUMNS:
            problems.append(Problem(f"file.header.{column}", "unknown_column", "unknown column",
                                    {"allowed": list(COLUMNS)}))
        seen.add(column)
    problems.extend(Problem(f"file.header.{column}", "missing_column", "this column is required")
                    for column in REQUIRED_COLUMNS if column not in seen)
    return problems


def _mark_duplicates(rows: Sequence[ImportRow]) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        if row.name:
            counts[row.name.lower()] = counts.get(row.name.lower(), 0) + 1
    for row in rows:
        if row.name and counts[row.name.lower()] > 1:
            row.problems.append(Problem("name", "duplicate_in_file", "this name appears on more than one row"))
