"""Grammar, validation (every problem, in document order), canonical form and fingerprint of DSL v4 documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from tests.unit.domain.classification.fixtures import X7, X10, X13, X17_TEXT, doc, priv
from tests.unit.domain.classification.strategies import expressions
from whalefall.domain.classification import (
    HasPrivilege,
    Rule,
    RuleValidationError,
    parse_rule,
    to_document,
    validate_rule,
)
from whalefall.domain.errors import UnprocessableError, WhalefallError
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import catalog_for
from whalefall.domain.privileges.names import Scope


def codes(document: object, **kw: object) -> list[tuple[str, str]]:
    report = validate_rule(document, **kw)  # type: ignore[arg-type]
    return [(issue.code, issue.path) for issue in report.errors]


def warnings(document: object, **kw: object) -> list[tuple[str, str]]:
    report = validate_rule(document, **kw)  # type: ignore[arg-type]
    return [(issue.code, issue.path) for issue in report.warnings]


def test_x17_reports_exactly_the_listed_errors_in_order() -> None:
    with pytest.raises(RuleValidationError) as caught:
        parse_rule(X17_TEXT)
    assert [(e.code, e.path) for e in caught.value.errors] == [
        ("version_invalid", "$.version"),
        ("args_empty", "$.expr.args[0].args"),
        ("scope_unknown", "$.expr.args[1].args.scope"),
        ("unknown_key", "$.expr.args[1].args.databse"),
        ("not_arity", "$.expr.args[2].args"),
        ("arg_blank", "$.expr.args[2].args[1].args.name"),
    ]
    assert all(e.severity == "error" for e in caught.value.errors)


def test_rule_validation_error_is_an_unprocessable_domain_error_with_details() -> None:
    with pytest.raises(RuleValidationError) as caught:
        parse_rule(doc({"op": "AND", "args": []}))
    error = caught.value
    assert isinstance(error, UnprocessableError) and isinstance(error, WhalefallError)
    assert error.code == "RULE_INVALID"
    assert [(p.field, p.code) for p in error.problems] == [("$.expr.args", "args_empty")]


@pytest.mark.parametrize(("document", "expected"), [
    ("{", [("document_not_json", "$")]),
    ('{"version": 4, "expr": NaN}', [("document_not_json", "$")]),
    ('{"version": 4, "expr": {"fn": "is_superuser"}, "x": Infinity}', [("document_not_json", "$")]),
    ("[1]", [("root_not_object", "$")]),
    ('{"version": 4, "expr": {"fn": "is_superuser", "fn": "is_superuser"}}', [("duplicate_key", "$.expr")]),
    ('{"version": 4, "expr": {"op": "OR", "args": [{"fn": "has_role", "args": {"name": "a", "name": "b"}}]}}',
     [("duplicate_key", "$.expr.args[0].args")]),
    ('{"version": 4, "expr": {"fn": "is_superuser"}, "meta": {"a": 1, "a": 2}}', [("duplicate_key", "$.meta")]),
    ({"expr": {"fn": "is_superuser"}}, [("version_missing", "$.version")]),
    ({"version": "4", "expr": {"fn": "is_superuser"}}, [("version_invalid", "$.version")]),
    ({"version": True, "expr": {"fn": "is_superuser"}}, [("version_invalid", "$.version")]),
    ({"version": 3, "expr": {"fn": "is_superuser"}}, [("version_invalid", "$.version")]),
    ({"version": 4}, [("expr_missing", "$.expr")]),
    (doc({"fn": "is_superuser"}) | {"meta": []}, [("meta_not_object", "$.meta")]),
    (doc({"fn": "is_superuser"}) | {"operator": "AND"}, [("unknown_key", "$.operator")]),
    (doc([]), [("node_not_object", "$.expr")]),
    (doc({"op": "AND", "fn": "is_superuser", "args": [{"fn": "x"}]}),
     [("node_ambiguous", "$.expr"), ("fn_invalid", "$.expr.args[0].fn")]),
    (doc({"args": []}), [("node_kind_missing", "$.expr")]),
    (doc({"op": "XOR", "args": [{"fn": "is_superuser"}]}), [("op_invalid", "$.expr.op")]),
    (doc({"op": 1, "args": [{"fn": "is_superuser"}]}), [("op_invalid", "$.expr.op")]),
    (doc({"op": "AND"}), [("args_not_list", "$.expr.args")]),
    (doc({"op": "AND", "args": {}}), [("args_not_list", "$.expr.args")]),
    (doc({"op": "NOT", "args": []}), [("not_arity", "$.expr.args")]),
    (doc({"fn": "has_rol", "args": {"name": "x"}}), [("fn_invalid", "$.expr.fn")]),
    (doc({"fn": "is_superuser", "args": []}), [("args_not_object", "$.expr.args")]),
    (doc({"fn": "has_role"}), [("arg_missing", "$.expr.args.name")]),
    (doc({"fn": "has_role", "args": {"name": 1}}), [("arg_type", "$.expr.args.name")]),
    (doc({"fn": "is_superuser", "args": {"via_roles": "true"}}), [("arg_type", "$.expr.args.via_roles")]),
    (doc({"fn": "has_role", "args": {"name": "x" * 257}}), [("string_too_long", "$.expr.args.name")]),
    (doc({"fn": "db_type_in", "args": {"types": []}}), [("list_empty", "$.expr.args.types")]),
    (doc({"fn": "db_type_in", "args": {"types": ["oracle"] * 101}}), [("list_too_long", "$.expr.args.types")]),
    (doc({"fn": "db_type_in", "args": {"types": ["oracle", "pg", "db2"]}}),
     [("engine_unknown", "$.expr.args.types[2]")]),
    (doc(priv("SELECT", "galaxy")), [("scope_unknown", "$.expr.args.scope")]),
    (doc({"fn": "has_capability", "args": {"name": "can_fly"}}), [("capability_unknown", "$.expr.args.name")]),
    (doc(priv("all  privileges", "global")), [("not_a_privilege", "$.expr.args.name")]),
    (doc({"fn": "has_any_privilege", "args": {"names": ["SELECT", "ALL"], "scope": "global"}}),
     [("not_a_privilege", "$.expr.args.names[1]")]),
    (doc(priv("SELECT", "server", database="x")), [("arg_not_applicable", "$.expr.args.database")]),
    (doc(priv("SELECT", "tablespace", database="x")), [("arg_not_applicable", "$.expr.args.database")]),
    (doc(priv("SELECT", "table", object="a..b")), [("object_invalid", "$.expr.args.object")]),
    (doc(priv("SELECT", "table", object=["a", "b", "c", "d", "e"])), [("object_invalid", "$.expr.args.object")]),
    (doc(priv("SELECT", "table", object=7)), [("object_invalid", "$.expr.args.object")]),
])
def test_each_error_has_its_code_and_path(document: object, expected: list[tuple[str, str]]) -> None:
    assert codes(document) == expected


def test_size_limit_and_bytes_input() -> None:
    big = json.dumps(doc({"fn": "is_superuser"}) | {"meta": {"pad": "x" * 70_000}})
    assert codes(big) == [("document_too_large", "$")]
    assert codes(big.encode()) == [("document_too_large", "$")]
    assert validate_rule(json.dumps(doc({"fn": "is_superuser"})).encode()).rule is not None
    assert codes(b"\xff\xfe") == [("document_not_json", "$")]


def test_depth_and_node_limits() -> None:
    deep: dict[str, object] = {"fn": "is_superuser"}
    for _ in range(32):
        deep = {"op": "NOT", "args": [deep]}
    assert ("depth_exceeded", "$.expr" + ".args[0]" * 32) in codes(doc(deep))
    wide = doc({"op": "OR", "args": [{"fn": "is_superuser"}] * 512})
    assert codes(wide) == [("too_many_nodes", "$.expr.args[511]")]
    assert codes(doc({"op": "OR", "args": [{"fn": "is_superuser"}] * 511})) == []


def test_structural_defect_8_all_reported_together() -> None:
    document = {"version": 4.0, "expr": {"op": "AND", "args": [
        {"op": "OR", "args": []}, {"op": "NOT", "args": []},
        {"op": "NOT", "args": [{"fn": "is_superuser"}, {"fn": "is_superuser"}]},
        {"fn": "db_type_in", "args": {"types": []}}, {"fn": "nope"},
        {"fn": "has_role", "args": {"name": "x", "databse": "y"}},
    ]}}
    assert codes(document) == [
        ("version_invalid", "$.version"), ("args_empty", "$.expr.args[0].args"), ("not_arity", "$.expr.args[1].args"),
        ("not_arity", "$.expr.args[2].args"), ("list_empty", "$.expr.args[3].args.types"),
        ("fn_invalid", "$.expr.args[4].fn"), ("unknown_key", "$.expr.args[5].args.databse"),
    ]


def test_lower_case_op_and_fn_with_spaces_are_valid() -> None:
    rule = parse_rule(doc({"op": " or ", "args": [{"fn": " IS_SUPERUSER "}]}))
    assert to_document(rule)["expr"] == {"op": "OR", "args": [{"fn": "is_superuser"}]}


def test_x7_alias_warning_and_canonical_capability() -> None:
    report = validate_rule(doc(X7))
    assert [(w.code, w.path, w.severity) for w in report.warnings] == [
        ("alias_deprecated", "$.expr.args[0].args.name", "warning")]
    assert report.rule is not None
    assert to_document(report.rule)["expr"] == {"op": "AND", "args": [
        {"fn": "has_capability", "args": {"name": "CREATEROLE"}},
        {"op": "NOT", "args": [{"fn": "has_capability", "args": {"name": "LOGIN"}}]}]}


def test_x10_names_and_scope_are_normalised_but_database_kept() -> None:
    rule = parse_rule(doc(X10))
    assert rule.expr == HasPrivilege(name="ALTER ANY USER", scope=Scope.DATABASE, database="FinanceDW")


def test_canonical_document_of_x13_keeps_the_scope_synonym() -> None:
    rule = parse_rule(doc(X13))
    assert to_document(rule) == {"expr": {"args": [
        {"args": {"name": "EXP_FULL_DATABASE", "via_roles": True}, "fn": "has_role"},
        {"args": {"names": ["ALTER SYSTEM", "DROP ANY TABLE"], "scope": "system"}, "fn": "has_any_privilege"},
    ], "op": "OR"}, "version": 4}


def test_canonical_form_sorts_and_dedupes_lists_and_omits_defaults() -> None:
    rule = parse_rule(doc({"fn": "has_any_privilege", "args": {
        "names": ["update", "SELECT", " select"], "scope": "Table", "object": "s.t", "via_roles": False,
        "grant_option": False}}) | {"meta": {"editor": {"x": 1}}})
    assert to_document(rule) == {"expr": {"args": {"names": ["SELECT", "UPDATE"], "object": ["s", "t"],
                                                   "scope": "table"}, "fn": "has_any_privilege"},
                                 "meta": {"editor": {"x": 1}}, "version": 4}
    types = parse_rule(doc({"fn": "db_type_in", "args": {"types": ["PG", "postgres", "mssql", "MariaDB"]}}))
    assert to_document(types)["expr"] == {"args": {"types": ["mariadb", "postgresql", "sqlserver"]},
                                          "fn": "db_type_in"}


def test_fingerprint_ignores_meta_synonyms_and_spelling_but_not_meaning() -> None:
    a = parse_rule(doc(priv("select", "server")) | {"meta": {"note": "a"}})
    b = parse_rule(doc(priv("SELECT", "system")))
    c = parse_rule(doc(priv("SELECT", "global", via_roles=True)))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 64


@settings(max_examples=150, deadline=None)
@given(expressions())
def test_parsing_the_canonical_document_yields_an_equal_rule(expr: dict[str, object]) -> None:
    rule = parse_rule(doc(expr))
    again = parse_rule(to_document(rule))
    assert again == rule
    assert parse_rule(json.dumps(to_document(rule))).fingerprint == rule.fingerprint


@pytest.mark.parametrize(("document", "engine", "expected"), [
    (doc(priv("MADE_UP_PRIV", "global")), DbEngine.MYSQL, [("privilege_not_in_catalog", "$.expr.args.name")]),
    (doc(priv("SUPER", "database", database="d")), DbEngine.MYSQL,
     [("privilege_scope_mismatch", "$.expr.args.name")]),
    (doc(priv("SELECT", "table", database="d", object="T")), DbEngine.ORACLE,
     [("arg_not_applicable_for_engine", "$.expr.args.database")]),
    (doc(priv("SELECT", "schema", database="d")), DbEngine.MYSQL,
     [("privilege_scope_mismatch", "$.expr.args.name"), ("arg_not_applicable_for_engine", "$.expr.args.scope")]),
    (doc(priv("SELECT", "tablespace")), DbEngine.SQLSERVER,
     [("privilege_scope_mismatch", "$.expr.args.name"), ("arg_not_applicable_for_engine", "$.expr.args.scope")]),
    (doc({"op": "AND", "args": [{"fn": "db_type_in", "args": {"types": ["oracle"]}}, {"fn": "is_superuser"}]}),
     DbEngine.MYSQL, [("engine_excluded", "$.expr")]),
    (doc(priv("usage", "global")), DbEngine.MYSQL, [("always_true", "$.expr.args.name")]),
    (doc({"fn": "has_role", "args": {"name": "public"}}), DbEngine.POSTGRESQL, [("always_true", "$.expr")]),
    (doc({"fn": "has_role", "args": {"name": "DB_OWNER", "database": " Fin "}}), DbEngine.SQLSERVER,
     [("name_case_mismatch", "$.expr.args.name"), ("identifier_whitespace", "$.expr.args.database")]),
    (doc({"op": "OR", "args": [{"fn": "is_superuser"}, {"fn": " is_superuser "}]}), None,
     [("duplicate_child", "$.expr.args[1]")]),
])
def test_context_warnings(document: object, engine: DbEngine | None, expected: list[tuple[str, str]]) -> None:
    report = validate_rule(document, engine=engine)  # type: ignore[arg-type]
    assert report.errors == ()
    assert [(w.code, w.path) for w in report.warnings] == expected
    assert report.rule is not None and report.rule.warnings == report.warnings


def test_catalog_warnings_need_context_and_catalog_implies_engine() -> None:
    document = doc(priv("MADE_UP_PRIV", "global"))
    assert warnings(document) == []
    assert warnings(document, catalog=catalog_for(DbEngine.MYSQL)) == [
        ("privilege_not_in_catalog", "$.expr.args.name")]
    assert warnings(doc(priv("TEMP", "database")), engine=DbEngine.POSTGRESQL) == []


def test_engine_alias_applied_when_engine_known() -> None:
    rule = parse_rule(doc(priv("temp", "database")), engine=DbEngine.POSTGRESQL)
    assert isinstance(rule.expr, HasPrivilege) and rule.expr.name == "TEMPORARY"


def test_programming_errors_raise_type_error() -> None:
    with pytest.raises(TypeError):
        validate_rule(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        validate_rule(doc({"fn": "is_superuser"}), engine="mysql")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        validate_rule(doc({"fn": "is_superuser"}), engine=DbEngine.MYSQL, catalog=catalog_for(DbEngine.ORACLE))
    with pytest.raises(TypeError):
        to_document("rule")  # type: ignore[arg-type]


def test_rule_is_immutable_and_hashable() -> None:
    rule = parse_rule(doc(X13) | {"meta": {"a": [1]}})
    assert isinstance(rule, Rule)
    assert hash(rule) == hash(parse_rule(doc(X13)))
    with pytest.raises(AttributeError):
        rule.fingerprint = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rule.meta["b"] = 1  # type: ignore[index]
