"""Shared CLI plumbing: settings, container lifetime, output formats and the error → exit-code mapping."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any, Final, TypeVar

import msgspec
import typer
from dishka import AsyncContainer
from rich.console import Console
from rich.table import Table

from whalefall.application.errors import AuthenticationError, StoreUnavailableError
from whalefall.domain.errors import (
    AlreadyExistsError,
    InUseError,
    InvalidStateError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
    ValidationProblemsError,
    WhalefallError,
)
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings

T = TypeVar("T")
err_console = Console(stderr=True)

_EXIT_CODES: Final = (
    (ValidationProblemsError, 2), (NotFoundError, 3), (AlreadyExistsError, 4), (InUseError, 4),
    (InvalidStateError, 4), (PermissionDeniedError, 5), (AuthenticationError, 5), (UnprocessableError, 6),
    (StoreUnavailableError, 7),
)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def exit_code_of(exc: WhalefallError) -> int:
    """One mapping for the CLI: error family → exit code (1 for anything else)."""
    return next((code for family, code in _EXIT_CODES if isinstance(exc, family)), 1)


def run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a command; whalefall errors print a clear message (and every problem) and exit non-zero."""
    try:
        return asyncio.run(_call(coroutine_factory))
    except WhalefallError as exc:
        err_console.print(f"[red]error[/red] {exc.code}: {exc.message}")
        for problem in exc.problems:
            where = f"{problem.field}: " if problem.field else ""
            err_console.print(f"  - {where}{problem.message} ({problem.code})")
        raise typer.Exit(exit_code_of(exc)) from None


async def _call(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


@asynccontextmanager
async def app_container(settings: Settings | None = None) -> AsyncIterator[AsyncContainer]:
    container = make_container(settings or Settings.from_environ())
    try:
        yield container
    finally:
        await container.close()


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: OutputFormat, *, single: bool = False) -> None:
    """Print rows as a table or as JSON (one object when `single`)."""
    if fmt is OutputFormat.JSON:
        payload: Any = rows[0] if single and rows else list(rows)
        sys.stdout.write(json.dumps(payload, default=_json_default, indent=2) + "\n")
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


def _json_default(value: object) -> object:
    return msgspec.to_builtins(value)
