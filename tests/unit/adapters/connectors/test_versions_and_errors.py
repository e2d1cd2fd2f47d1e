"""Version parsing (capacity.md §2.3, E15) and driver error translation (§2.2) with redacted messages."""

from __future__ import annotations

import pymssql
import pymysql  # type: ignore[import-untyped]
import pytest
from psycopg import OperationalError, errors

from whalefall.adapters.connectors import mysql, postgresql, sqlserver
from whalefall.adapters.connectors._shared import ResultSet
from whalefall.adapters.connectors.mysql.mapping import server_info as mysql_info
from whalefall.adapters.connectors.oracle.mapping import server_info as oracle_info
from whalefall.adapters.connectors.postgresql.mapping import server_info as pg_info
from whalefall.adapters.connectors.sqlserver.mapping import server_info as mssql_info
from whalefall.domain.instances import SecretText
from whalefall.domain.sessions.backoff import ErrorClass


@pytest.mark.parametrize(("num", "version", "major", "minor"), [
    (150007, "15.7", 15, 7), (90624, "9.6.24", 9, 6), (170000, "17.0", 17, 0), (120019, "12.19", 12, 19)])
def test_postgresql_versions(num: int, version: str, major: int, minor: int) -> None:
    info = pg_info(ResultSet(("server_version_num", "version"), ((str(num), "PostgreSQL x"),)))
    assert (info.version, info.version_major, info.version_minor, info.flavor) == (version, major, minor,
                                                                                   "postgresql")


@pytest.mark.parametrize(("banner", "flavor", "version"), [
    ("10.11.6-MariaDB-0+deb12u1", "mariadb", "10.11.6"), ("5.5.5-10.4.32-MariaDB-log", "mariadb", "10.4.32"),
    ("8.0.36", "mysql", "8.0.36"), ("5.7.44-log", "mysql", "5.7.44"), ("11.4.2-mariadb", "mariadb", "11.4.2")])
def test_mysql_family_versions(banner: str, flavor: str, version: str) -> None:
    info = mysql_info(banner, "comment")
    assert (info.flavor, info.version, info.raw) == (flavor, version, banner)


def test_sqlserver_and_oracle_versions() -> None:
    mssql = mssql_info(ResultSet(("product_version", "edition", "version"),
                                 (("16.0.4135.4", "Standard Edition (64-bit)", "Microsoft SQL Server 2022 …"),)))
    assert (mssql.version_major, mssql.version_minor, mssql.product) == (16, 0, "SQL Server 2022")
    oracle = oracle_info(ResultSet(("PRODUCT", "VERSION"),
                                   (("Oracle Database 19c Enterprise Edition", "19.22.0.0.0"),)))
    assert (oracle.version_major, oracle.version_minor, oracle.edition) == (19, 22, "Enterprise Edition")
    unknown = mssql_info(ResultSet(("product_version", "edition", "version"), (("n/a", None, "banner"),)))
    assert unknown.version is None and unknown.version_major is None and unknown.product is None


SECRET = SecretText("Hunter2!pw")


@pytest.mark.parametrize(("code", "expected"), [
    (1045, ErrorClass.AUTH_FAILED), (1142, ErrorClass.PERMISSION_DENIED), (1143, ErrorClass.PERMISSION_DENIED),
    (1227, ErrorClass.PERMISSION_DENIED), (2003, ErrorClass.UNREACHABLE), (2013, ErrorClass.CONNECTION_LOST),
    (1040, ErrorClass.SERVER_BUSY), (1049, ErrorClass.CONFIG_ERROR), (9999, ErrorClass.INTERNAL)])
def test_mysql_errors(code: int, expected: ErrorClass) -> None:
    error = mysql.translate(pymysql.err.OperationalError(code, "failed with Hunter2!pw inside"), SECRET)
    assert error.error_class is expected and error.driver_code == code
    assert "Hunter2" not in error.message and "***" in error.message


def test_mysql_connect_timeout_is_timeout() -> None:
    error = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.1' (timed out)")
    error.original_exception = TimeoutError("timed out")
    assert mysql.translate(error, SECRET).error_class is ErrorClass.TIMEOUT


@pytest.mark.parametrize(("exc", "expected"), [
    (OperationalError('connection failed: FATAL:  password authentication failed for user "x"'),
     ErrorClass.AUTH_FAILED),
    (OperationalError('connection failed: FATAL:  role "nobody" does not exist'), ErrorClass.AUTH_FAILED),
    (OperationalError('connection failed: FATAL:  database "nope" does not exist'), ErrorClass.CONFIG_ERROR),
    (OperationalError("connection failed: Connection refused"), ErrorClass.UNREACHABLE),
    (OperationalError("connection timeout expired"), ErrorClass.TIMEOUT),
    (OperationalError("connection failed: FATAL:  sorry, too many clients already"), ErrorClass.SERVER_BUSY),
    (errors.InsufficientPrivilege("permission denied for table x"), ErrorClass.PERMISSION_DENIED),
    (errors.QueryCanceled("canceling statement due to statement timeout"), ErrorClass.TIMEOUT),
    (errors.AdminShutdown("terminating connection due to administrator command"), ErrorClass.CONNECTION_LOST),
])
def test_postgresql_errors(exc: Exception, expected: ErrorClass) -> None:
    assert postgresql.classify(exc) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "expected"), [
    ((18456, b"Login failed for user 'x'.DB-Lib error message 20018"), ErrorClass.AUTH_FAILED),
    ((20009, b"Unable to connect: Adaptive Server is unavailable or does not exist"), ErrorClass.UNREACHABLE),
    ((916, b"The server principal is not able to access the database"), ErrorClass.PERMISSION_DENIED),
    ((4060, b"Cannot open database"), ErrorClass.CONFIG_ERROR),
    ((20003, b"Adaptive Server connection timed out"), ErrorClass.TIMEOUT),
    ((20002, b"DB-Lib error message 20002: Login failed for user 'x' (18456)"), ErrorClass.AUTH_FAILED),
])
def test_sqlserver_errors(args: tuple[int, bytes], expected: ErrorClass) -> None:
    error = sqlserver.translate(pymssql.OperationalError(*args), SECRET)
    assert error.error_class is expected
