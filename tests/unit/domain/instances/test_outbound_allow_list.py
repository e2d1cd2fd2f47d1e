"""OutboundAllowList (api.md §4.11): parsing of CIDRs and host globs, every bad entry reported, matching rules."""

from __future__ import annotations

import pytest

from whalefall.domain.instances import OutboundAllowList, OutboundAllowListError


def test_cidrs_bare_addresses_and_globs_are_parsed_and_empty_entries_ignored() -> None:
    allow = OutboundAllowList.parse(" 10.0.0.0/8, 192.0.2.7 ,, 2001:db8::/32, *.DB.Example.com., db-??.corp ,")
    assert [str(n) for n in allow.networks] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    assert allow.globs == ("*.db.example.com", "db-??.corp")


def test_every_bad_entry_is_reported_at_once() -> None:
    with pytest.raises(OutboundAllowListError) as caught:
        OutboundAllowList.parse("10.0.0.0/33, 10.0.0.1/8, host name, 300.1.2.3, ok.example.com, bad!glob")
    problems = caught.value.problems
    assert len(problems) == 5
    assert "'10.0.0.0/33' is not a valid CIDR" in problems[0]
    assert "'10.0.0.1/8' is not a valid CIDR" in problems[1] and "host bits" in problems[1]
    assert "'host name' is neither a CIDR nor a host glob" in problems[2]
    assert "'300.1.2.3' is not a valid CIDR" in problems[3]
    assert "'bad!glob'" in problems[4]


@pytest.mark.parametrize(("host", "allowed"), [
    ("a.db.example.com", True), ("A.B.DB.EXAMPLE.COM.", True), ("db.example.com", False),
    ("db-01.corp", True), ("db-1.corp", False), ("evil.com", False),
])
def test_globs_match_host_names_case_insensitively(host: str, allowed: bool) -> None:
    allow = OutboundAllowList.parse("*.db.example.com, db-??.corp")
    assert allow.matches_glob(host) is allowed


@pytest.mark.parametrize(("address", "allowed"), [
    ("10.1.2.3", True), ("11.0.0.1", False), ("2001:db8::5", True), ("2001:db9::5", False),
    ("fe80::1%eth0", False), ("not-an-address", False), ("::ffff:10.1.2.3", False),
])
def test_networks_contain_addresses_of_their_own_family(address: str, allowed: bool) -> None:
    allow = OutboundAllowList.parse("10.0.0.0/8, 2001:db8::/32")
    assert allow.contains(address) is allowed


def test_a_name_is_allowed_only_when_every_resolved_address_is_inside() -> None:
    allow = OutboundAllowList.parse("10.0.0.0/8")
    assert allow.allows_resolved(("10.0.0.1", "10.9.9.9"))
    assert not allow.allows_resolved(("10.0.0.1", "192.0.2.1"))
    assert not allow.allows_resolved(())


def test_a_lone_star_allows_every_host_name_and_literal() -> None:
    allow = OutboundAllowList.parse("*")
    assert allow.matches_glob("anything.example") and allow.matches_glob("192.0.2.1")
