"""Hypothesis strategies: random permission facts and random DSL v4 expressions over a small shared vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import (
    AccountRef,
    Coverage,
    CoverageGap,
    GrantFact,
    PermissionFacts,
    RoleFact,
)
from whalefall.domain.privileges.names import Scope

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)
PRIVILEGES = ["SELECT", "UPDATE", "TEMPORARY", "REPLICATION CLIENT", "BINLOG MONITOR", "USAGE", "SUPER"]
RULE_PRIVILEGES = [*PRIVILEGES, "temp", " select ", "ALTER"]
ROLE_NAMES = ["r1", "r1@%", "r1@localhost", "R1", "db_owner", "PUBLIC"]
DATABASES = ["d1", "D1", "d2"]
OBJECTS: list[tuple[str, ...]] = [(), ("s",), ("s", "t"), ("S", "t"), ("s", "t", "c")]
CAPABILITY_POOL = ["SUPERUSER", "LOGIN", "LOCKED", "CREATEROLE"]
SCOPES = [Scope.GLOBAL, Scope.DATABASE, Scope.SCHEMA, Scope.TABLE, Scope.COLUMN]


@st.composite
def grants(draw: st.DrawFn) -> GrantFact:
    scope = draw(st.sampled_from(SCOPES))
    database = None if scope is Scope.GLOBAL else draw(st.sampled_from(DATABASES))
    obj = () if scope in (Scope.GLOBAL, Scope.DATABASE) else draw(st.sampled_from(OBJECTS[1:]))
    source = draw(st.sampled_from(["direct", "direct", "role", "public"]))
    return GrantFact(
        privilege=draw(st.sampled_from(PRIVILEGES)), scope=scope, database=database, object=obj,
        grant_option=draw(st.booleans()), effect=draw(st.sampled_from(["grant", "grant", "grant", "deny"])),
        source=source, via="r1" if source == "role" else None, path=("r1",) if source == "role" else (),
    )


@st.composite
def roles(draw: st.DrawFn) -> RoleFact:
    return RoleFact(name=draw(st.sampled_from(ROLE_NAMES)), database=draw(st.sampled_from([None, "d1", "D1"])),
                    direct=draw(st.booleans()))


@st.composite
def facts(draw: st.DrawFn) -> PermissionFacts:
    engine = draw(st.sampled_from(list(DbEngine)))
    flavor = draw(st.sampled_from(["mysql", "mariadb"])) if engine is DbEngine.MYSQL else None
    version = draw(st.sampled_from(["10.4.1", "10.11.6-MariaDB"])) if flavor == "mariadb" else "8.0.36"
    own = draw(st.lists(st.sampled_from(CAPABILITY_POOL), unique=True, max_size=3))
    via = draw(st.lists(st.sampled_from(CAPABILITY_POOL), unique=True, max_size=2))
    gap_options = [
        (), (CoverageGap("d1", "connect_failed", None),), (CoverageGap("d2", "offline", AS_OF),),
        (CoverageGap(None, "unknown", None),),
    ]
    gaps = draw(st.sampled_from([(), (), *gap_options]))
    return PermissionFacts(
        engine=engine, flavor=flavor, server_version=version, account=AccountRef("", "a", "user"), as_of=AS_OF,
        capabilities=tuple(own), capabilities_via_roles=tuple(via),
        roles=tuple(draw(st.lists(roles(), max_size=3))), grants=tuple(draw(st.lists(grants(), max_size=6))),
        coverage=Coverage(not gaps, gaps),
    )


def _leaf() -> st.SearchStrategy[dict[str, object]]:
    optional_db = st.sampled_from([None, *DATABASES])
    optional_obj = st.sampled_from([None, ["s"], ["s", "t"], ["S", "t"]])

    def privilege(names: list[str], scope: str, database: str | None, obj: list[str] | None, via: bool,
                  grant_option: bool) -> dict[str, object]:
        args: dict[str, object] = {"scope": scope, "via_roles": via, "grant_option": grant_option}
        if len(names) == 1:
            args["name"] = names[0]
        if database is not None and scope not in ("global", "server"):
            args["database"] = database
        if obj is not None:
            args["object"] = obj
        if len(names) == 1:
            return {"fn": "has_privilege", "args": args}
        return {"fn": "has_any_privilege", "args": {**args, "names": names}}

    return st.one_of(
        st.builds(lambda t: {"fn": "db_type_in", "args": {"types": t}},
                  st.lists(st.sampled_from(["mysql", "mariadb", "pg", "sqlserver", "oracle"]), min_size=1,
                           max_size=2)),
        st.builds(lambda v: {"fn": "is_superuser", "args": {"via_roles": v}}, st.booleans()),
        st.builds(lambda n, v: {"fn": "has_capability", "args": {"name": n, "via_roles": v}},
                  st.sampled_from([*CAPABILITY_POOL, "can_create_role"]), st.booleans()),
        st.builds(lambda n, d, v: {"fn": "has_role", "args": {"name": n, "via_roles": v,
                                                              **({"database": d} if d else {})}},
                  st.sampled_from(["r1", "r1@localhost", "db_owner", "public", "R1"]), optional_db, st.booleans()),
        st.builds(privilege, st.lists(st.sampled_from(RULE_PRIVILEGES), min_size=1, max_size=2, unique=True),
                  st.sampled_from(["global", "server", "database", "schema", "table", "column"]), optional_db,
                  optional_obj, st.booleans(), st.booleans()),
    )


def expressions(max_leaves: int = 6) -> st.SearchStrategy[dict[str, object]]:
    """Random expression documents (valid by construction)."""
    return st.recursive(
        _leaf(),
        lambda children: st.one_of(
            st.builds(lambda c: {"op": "NOT", "args": [c]}, children),
            st.builds(lambda op, cs: {"op": op, "args": cs}, st.sampled_from(["AND", "OR", "and", " Or "]),
                      st.lists(children, min_size=1, max_size=3)),
        ),
        max_leaves=max_leaves,
    )


def doc(expr: object) -> dict[str, object]:
    """Wrap an expression in a version-4 rule document."""
    return {"version": 4, "expr": expr}
