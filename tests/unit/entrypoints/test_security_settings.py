"""`WHALEFALL_OUTBOUND_ALLOW` and `WHALEFALL_RATELIMIT_*` are parsed once by Settings; a bad value stops start-up
with its field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from whalefall.application.identity.request_limits import LimitedAction
from whalefall.entrypoints.settings import Settings, SettingsError


def test_unset_or_blank_means_no_restriction(tmp_path: Path) -> None:
    assert Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path)}).outbound_allow is None
    assert Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path),
                                  "WHALEFALL_OUTBOUND_ALLOW": ""}).outbound_allow is None


def test_the_environment_value_is_parsed(tmp_path: Path) -> None:
    settings = Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path),
                                      "WHALEFALL_OUTBOUND_ALLOW": "10.0.0.0/8,*.db.internal"})
    assert settings.outbound_allow is not None
    assert settings.outbound_allow.contains("10.2.3.4") and settings.outbound_allow.matches_glob("pg.db.internal")


def test_bad_entries_are_configuration_errors_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path),
                               "WHALEFALL_OUTBOUND_ALLOW": "10.0.0.0/8, 10.0.0.0/99, bad host"})
    assert [(p.field, p.code) for p in caught.value.problems] == [("outbound.allow", "invalid_format")] * 2
    assert "10.0.0.0/99" in caught.value.problems[0].message and "bad host" in caught.value.problems[1].message


def test_rate_limits_are_read_from_the_environment_and_validated(tmp_path: Path) -> None:
    settings = Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path), "WHALEFALL_RATELIMIT_REQUEST": "0",
                                      "WHALEFALL_RATELIMIT_EXPORT_WINDOW_S": "120"})
    assert settings.request_limits.of(LimitedAction.REQUEST).count == 0
    assert settings.request_limits.of(LimitedAction.EXPORT).window_s == 120
    assert settings.request_limits.of(LimitedAction.PASSWORD_CHANGE).count == 5
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({"WHALEFALL_DATA_DIR": str(tmp_path), "WHALEFALL_RATELIMIT_REQUEST": "-1",
                               "WHALEFALL_RATELIMIT_CONNECTION_TEST_WINDOW_S": "0",
                               "WHALEFALL_RATELIMIT_EXPORT": "many"})
    assert sorted((p.field, p.code) for p in caught.value.problems) == [
        ("ratelimit.connection_test_window_s", "out_of_range"), ("ratelimit.export", "invalid_type"),
        ("ratelimit.request", "out_of_range")]
