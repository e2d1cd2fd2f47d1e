"""Database exclusion filters (capacity.md §3.5): exact names plus whole-name patterns with `\\` escapes.

This is deliberately not the account-filter language (accounts.md §3): there a backslash is literal
(`DOMAIN\\user`), here it escapes. The two must not share a matcher (spec README, "filter pattern syntax").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from whalefall.domain.errors import Problem, UnprocessableError

_ESCAPABLE: Final = frozenset("*%?\\")


class InvalidFilterPattern(UnprocessableError, ValueError):
    """A database filter pattern is malformed; a configuration error at startup or reload."""

    code = "INVALID_FILTER_PATTERN"
    default_message = "Invalid database filter pattern"

    def __init__(self, pattern: str, reason: str) -> None:
        text = f"invalid filter pattern {pattern!r}: {reason}"
        super().__init__(
            text, problems=[Problem(None, "invalid_filter_pattern", text, {"pattern": pattern})],
            context={"pattern": pattern},
        )
        self.pattern = pattern
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """A validated pattern and its regular-expression translation (`regex`, anchored by `fullmatch`)."""

    pattern: str
    regex: str
    _exact: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _folded: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # DOTALL: a wildcard matches any character, a newline included (names are data, not lines).
        object.__setattr__(self, "_exact", re.compile(self.regex, re.DOTALL))
        object.__setattr__(self, "_folded", re.compile(self.regex, re.DOTALL | re.IGNORECASE))

    def matches(self, name: str, *, case_sensitive: bool = True) -> bool:
        """True when the pattern matches the whole of `name`."""
        compiled = self._exact if case_sensitive else self._folded
        return compiled.fullmatch(name) is not None


def compile_pattern(pattern: str) -> CompiledPattern:
    """Translate a §3.5 pattern: `*`/`%` any run, `?` or `\\_` one character, `_` literal, `\\*` `\\%` `\\?` `\\\\`
    literal. Raises `InvalidFilterPattern` for a trailing lone `\\` and, because the language lists its escapes
    exhaustively and a silent literal would hide a typo, for a backslash before any other character.
    """
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise InvalidFilterPattern(pattern, "trailing lone backslash")
            if escaped == "_":
                parts.append(".")
            elif escaped in _ESCAPABLE:
                parts.append(re.escape(escaped))
            else:
                raise InvalidFilterPattern(pattern, f"unknown escape \\{escaped}")
        elif char in "*%":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return CompiledPattern(pattern, "".join(parts))


@dataclass(frozen=True, slots=True)
class DatabaseFilter:
    """One engine's exclusions: a database is excluded when its name equals one of `exclude_names` or a pattern
    matches the whole name. `case_sensitive` is true for MySQL and PostgreSQL, false for SQL Server and Oracle;
    it applies to names and patterns alike. Patterns are compiled at construction, so a bad one raises
    `InvalidFilterPattern` when the configuration is read, not on the first database.
    """

    exclude_names: frozenset[str]
    exclude_patterns: tuple[str, ...]
    case_sensitive: bool
    _compiled: tuple[CompiledPattern, ...] = field(init=False, repr=False, compare=False)
    _folded_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(compile_pattern(p) for p in self.exclude_patterns))
        object.__setattr__(self, "_folded_names", frozenset(n.casefold() for n in self.exclude_names))

    def is_excluded(self, name: str) -> bool:
        """True when `name` is excluded by an exact name or a pattern."""
        if self.case_sensitive:
            if name in self.exclude_names:
                return True
        elif name.casefold() in self._folded_names:
            return True
        return any(p.matches(name, case_sensitive=self.case_sensitive) for p in self._compiled)
