"""Capacity collection settings as the composition root reads them (capacity.md §3.5, §11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.di.capacity import collection_settings
from whalefall.entrypoints.settings import Settings, SettingsError


def settings(tmp_path: Path, **raw: object) -> Settings:
    return Settings.from_raw({"data.dir": str(tmp_path), **raw})


def test_defaults_exclude_nothing_and_add_managed_service_names(tmp_path: Path) -> None:
    read = collection_settings(settings(tmp_path))
    assert not read.filter_for(DbEngine.POSTGRESQL).is_excluded("tmp_x")
    assert read.system_names(DbEngine.POSTGRESQL) == {"rdsadmin", "azure_maintenance", "cloudsqladmin"}
    assert read.max_tables == 5000


def test_environment_and_toml_forms(tmp_path: Path) -> None:
    env = collection_settings(settings(tmp_path, **{
        "capacity.filters_sqlserver_exclude_names": "Scratch, Old",
        "capacity.filters_sqlserver_exclude_patterns": "tmp_*",
        "capacity.system_names_postgresql": "maint",
        "capacity.table_sizes_max_tables": "10"}))
    sqlserver = env.filter_for(DbEngine.SQLSERVER)
    assert sqlserver.is_excluded("scratch") and sqlserver.is_excluded("TMP_LOAD")  # case-insensitive engine
    assert not sqlserver.is_excluded("tmpXload")  # `_` is literal (defect 26)
    assert env.system_names(DbEngine.POSTGRESQL) == {"maint"} and env.max_tables == 10
    toml = collection_settings(settings(tmp_path, **{
        "capacity.filters": {"postgresql": {"exclude_names": ["scratch"], "exclude_patterns": ["audit_20??"]}},
        "capacity.table_sizes": {"max_tables": 7}}))
    postgres = toml.filter_for(DbEngine.POSTGRESQL)
    assert postgres.is_excluded("scratch") and not postgres.is_excluded("Scratch")
    assert postgres.is_excluded("audit_2027") and not postgres.is_excluded("audit_20271")
    assert toml.max_tables == 7


def test_invalid_pattern_and_range_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        collection_settings(settings(tmp_path, **{"capacity.filters_mysql_exclude_patterns": "bad\\"}))
    problem = caught.value.problems[0]
    assert (problem.field, problem.code) == ("capacity.filters.mysql.exclude_patterns", "invalid_filter_pattern")
    with pytest.raises(SettingsError):
        collection_settings(settings(tmp_path, **{"capacity.table_sizes_max_tables": "0"}))
