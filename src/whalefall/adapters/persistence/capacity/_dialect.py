"""Dialect-specific SQL pieces of the capacity statements: exact integer division, day counts, typed literals."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    String,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.types import TypeEngine

POSTGRESQL: Final = "postgresql"


def idiv(dialect: str, numerator: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[Any]:
    """Exact integer division of non-negative operands: `div()` on PostgreSQL (SUM of BIGINT is numeric there, so
    `/` would not truncate), plain integer `/` on SQLite (rendered raw: SQLAlchemy's `/` would make it true
    division)."""
    if dialect == POSTGRESQL:
        return func.div(numerator, denominator)
    return Grouping(numerator).op("/", return_type=Integer)(Grouping(denominator))


def last_value(dialect: str, day: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Aggregate: `value` on the latest `day` of the group where it is not NULL (days are unique per group), in the
    same pass as the other aggregates, so no self-join is needed. PostgreSQL takes the max of `[day number, value]`
    arrays; SQLite the max of `'YYYY-MM-DD' || value` strings (a NULL value makes the string NULL, which max skips)."""
    if dialect == POSTGRESQL:
        pair = postgresql.array([days_between(dialect, day, literal_column("DATE '1970-01-01'")), value])
        return type_coerce(func.max(case((value.is_not(None), pair))), postgresql.ARRAY(BigInteger))[2]
    return cast(func.substr(func.max(type_coerce(day, String()).op("||", return_type=String)(value)), 11), Integer)


def greatest(dialect: str, a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    """The larger of two values (ISO date text compares correctly on SQLite)."""
    return func.greatest(a, b) if dialect == POSTGRESQL else func.max(a, b)


def days_between(dialect: str, end: ColumnElement[Any], start: ColumnElement[Any]) -> ColumnElement[Any]:
    """`end − start` in whole days (negative when end is before start)."""
    if dialect == POSTGRESQL:
        return end.op("-", return_type=Integer)(start)
    return cast(func.julianday(end) - func.julianday(start), Integer)


def typed(dialect: str, value: object, type_: TypeEngine[Any]) -> ColumnElement[Any]:
    """A bound literal with a declared type. PostgreSQL gets an explicit CAST (UNION ALL rows need one); SQLite must
    not (CAST(… AS DATE) has NUMERIC affinity there and would turn '2027-05-10' into 2027)."""
    param = bindparam(None, value, type_=type_)
    return cast(param, type_) if dialect == POSTGRESQL else param


def date_literal(dialect: str, value: date) -> ColumnElement[Any]:
    return typed(dialect, value, Date())


def text_literal(dialect: str, value: str) -> ColumnElement[Any]:
    return typed(dialect, value, String())


def number(text: str) -> ColumnElement[Any]:
    """An inline numeric constant (no bind parameter)."""
    return literal_column(text, Integer)
