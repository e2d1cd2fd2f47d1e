"""Parsing, validation, canonical form and fingerprint of DSL v4 rule documents (classification.md §3-§4)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final, Literal, assert_never

from whalefall.domain.classification.rules import (
    And,
    DbTypeIn,
    HasAnyPrivilege,
    HasCapability,
    HasPrivilege,
    HasRole,
    IsSuperuser,
    Leaf,
    Node,
    Not,
    Or,
    Rule,
    ValidationIssue,
)
from whalefall.domain.errors import Problem, UnprocessableError
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import PrivilegeCatalog, catalog_for
from whalefall.domain.privileges.names import (
    NOT_PRIVILEGES,
    SCOPE_SYNONYMS,
    Scope,
    canonical_capability,
    is_capability_alias,
    normalize_privilege_name,
    parse_scope,
)

MAX_DOCUMENT_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 32
MAX_NODES: Final = 512
MAX_LIST_ITEMS: Final = 100
MAX_STRING: Final = 256
DSL_VERSION: Final = 4

#: Engine names accepted by `db_type_in` → canonical name (`mariadb` narrows the `mysql` engine to one flavor).
ENGINE_NAMES: Final = MappingProxyType({
    "mysql": "mysql", "mariadb": "mariadb", "postgresql": "postgresql", "postgres": "postgresql",
    "pg": "postgresql", "sqlserver": "sqlserver", "mssql": "sqlserver", "oracle": "oracle",
})
_ENGINE_OF: Final = MappingProxyType({"mariadb": "mysql"})
_ALL_ENGINES: Final = frozenset(engine.value for engine in DbEngine)
_FN_ARGS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = MappingProxyType({
    "db_type_in": (("types",), ()),
    "is_superuser": ((), ("via_roles",)),
    "has_capability": (("name",), ("via_roles",)),
    "has_role": (("name",), ("database", "via_roles")),
    "has_privilege": (("name", "scope"), ("database", "object", "via_roles", "grant_option")),
    "has_any_privilege": (("names", "scope"), ("database", "object", "via_roles", "grant_option")),
})
_PUBLIC_ENGINES: Final = frozenset({DbEngine.POSTGRESQL, DbEngine.SQLSERVER, DbEngine.ORACLE})
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING: Final = object()
Pos = tuple[int, ...]


class RuleValidationError(UnprocessableError):
    """The rule document has errors (HTTP 422 `RULE_INVALID`); `errors` lists all of them, `warnings` too."""

    code: ClassVar[str] = "RULE_INVALID"
    default_message: ClassVar[str] = "The rule is invalid"

    def __init__(self, errors: Sequence[ValidationIssue], warnings: Sequence[ValidationIssue] = ()) -> None:
        self.errors: tuple[ValidationIssue, ...] = tuple(errors)
        self.warnings: tuple[ValidationIssue, ...] = tuple(warnings)
        first = self.errors[0].message if self.errors else self.default_message
        super().__init__(f"{len(self.errors)} rule problem(s); first: {first}",
                         problems=[Problem(issue.path, issue.code, issue.message) for issue in self.errors])


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every error and warning of a document (sorted by document position) and the rule when there is no error."""

    errors: tuple[ValidationIssue, ...]
    warnings: tuple[ValidationIssue, ...]
    rule: Rule | None

    @property
    def valid(self) -> bool:
        return not self.errors


class _DupDict(dict[str, object]):
    """A JSON object that remembers repeated keys (`object_pairs_hook`)."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        super().__init__()
        duplicates = []
        for key, value in pairs:
            if key in self:
                duplicates.append(key)
            self[key] = value
        self.duplicates: tuple[str, ...] = tuple(duplicates)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _key_path(path: str, key: object) -> str:
    text = str(key)
    if _IDENTIFIER.match(text):
        return f"{path}.{text}"
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


class _Checker:
    """One validation pass; collects issues with their document position."""

    def __init__(self, engine: DbEngine | None, catalog: PrivilegeCatalog | None) -> None:
        if engine is not None and not isinstance(engine, DbEngine):
            raise TypeError("engine must be a DbEngine or None")
        if catalog is not None and not isinstance(catalog, PrivilegeCatalog):
            raise TypeError("catalog must be a PrivilegeCatalog or None")
        if engine is not None and catalog is not None and catalog.engine is not engine:
            raise TypeError("catalog belongs to another engine")
        self.engine = engine or (catalog.engine if catalog else None)
        self.catalog = catalog or (catalog_for(self.engine) if self.engine else None)
        self.issues: list[tuple[Pos, int, ValidationIssue]] = []
        self.error_count = 0
        self.nodes = 0

    def add(self, severity: Literal["error", "warning"], code: str, path: str, pos: Pos, message: str) -> None:
        self.issues.append((pos, len(self.issues), ValidationIssue(code, path, message, severity)))
        if severity == "error":
            self.error_count += 1

    def error(self, code: str, path: str, pos: Pos, message: str) -> None:
        self.add("error", code, path, pos, message)

    def warn(self, code: str, path: str, pos: Pos, message: str) -> None:
        self.add("warning", code, path, pos, message)

    def load(self, doc: object) -> object:
        if isinstance(doc, Mapping):
            return doc
        if isinstance(doc, bytes | bytearray):
            raw = bytes(doc)
        elif isinstance(doc, str):
            raw = doc.encode("utf-8", "surrogatepass")
        else:
            raise TypeError(f"rule document must be a mapping, str or bytes, not {type(doc).__name__}")
        if len(raw) > MAX_DOCUMENT_BYTES:
            self.error("document_too_large", "$", (), f"document exceeds {MAX_DOCUMENT_BYTES} bytes")
            return _MISSING
        try:
            return json.loads(raw.decode("utf-8"), object_pairs_hook=_DupDict, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            self.error("document_not_json", "$", (), f"document is not JSON: {exc}")
            return _MISSING

    def scan(self, value: object, path: str, pos: Pos) -> None:
        """Report duplicate keys anywhere below a value that is not otherwise walked (iterative: any depth)."""
        stack = [(value, path, pos)]
        while stack:
            item, item_path, item_pos = stack.pop()
            if isinstance(item, Mapping):
                self.duplicates(item, item_path, item_pos)
                for index, (key, child) in enumerate(item.items()):
                    stack.append((child, _key_path(item_path, key), (*item_pos, index)))
            elif isinstance(item, list | tuple):
                stack.extend((child, f"{item_path}[{i}]", (*item_pos, i)) for i, child in enumerate(item))

    def duplicates(self, obj: Mapping[str, object], path: str, pos: Pos) -> None:
        for key in getattr(obj, "duplicates", ()):
            self.error("duplicate_key", path, pos, f"key {key!r} is repeated")

    def root(self, doc: object) -> tuple[Node | None, Mapping[str, object] | None]:
        if not isinstance(doc, Mapping):
            self.error("root_not_object", "$", (), "the document must be a JSON object")
            return None, None
        self.duplicates(doc, "$", ())
        index = {key: i for i, key in enumerate(doc)}
        for key, value in doc.items():
            if key not in ("version", "expr", "meta"):
                self.error("unknown_key", _key_path("$", key), (index[key],), f"unknown key {key!r}")
                self.scan(value, _key_path("$", key), (index[key],))
        if "version" not in doc:
            self.error("version_missing", "$.version", (len(doc),), "version is required")
        elif type(doc["version"]) is not int or doc["version"] != DSL_VERSION:
            self.error("version_invalid", "$.version", (index["version"],), "version must be the integer 4")
        meta = None
        if "meta" in doc:
            if isinstance(doc["meta"], Mapping):
                meta = doc["meta"]
                self.scan(meta, "$.meta", (index["meta"],))
            else:
                self.error("meta_not_object", "$.meta", (index["meta"],), "meta must be an object")
        if "expr" not in doc:
            self.error("expr_missing", "$.expr", (len(doc),), "expr is required")
            return None, meta
        node = self.node(doc["expr"], "$.expr", (index["expr"],), 1)
        if node is not None and self.engine is not None and self.engine.value not in _possible_engines(node):
            self.warn("engine_excluded", "$.expr", (index["expr"],),
                      f"the expression can only be true for engines other than {self.engine.value}")
        return node, meta

    def node(self, value: object, path: str, pos: Pos, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            self.error("depth_exceeded", path, pos, f"nesting deeper than {MAX_DEPTH}")
            return None
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.error("too_many_nodes", path, pos, f"more than {MAX_NODES} nodes")
        if not isinstance(value, Mapping):
            self.error("node_not_object", path, pos, "a node must be an object")
            self.scan(value, path, pos)
            return None
        self.duplicates(value, path, pos)
        index = {key: i for i, key in enumerate(value)}
        for key, child in value.items():
            if key not in ("op", "fn", "args"):
                self.error("unknown_key", _key_path(path, key), (*pos, index[key]), f"unknown key {key!r}")
                self.scan(child, _key_path(path, key), (*pos, index[key]))
        if ("op" in value) == ("fn" in value):
            code = "node_ambiguous" if "op" in value else "node_kind_missing"
            self.error(code, path, pos, "a node must contain exactly one of op, fn")
            self.children(value, path, pos, index, depth)
            return None
        if "op" in value:
            return self.op_node(value, path, pos, index, depth)
        return self.fn_node(value, path, pos, index)

    def children(self, value: Mapping[str, object], path: str, pos: Pos, index: dict[str, int],
                 depth: int) -> list[Node | None] | None:
        if "args" not in value:
            return None
        args, args_path, args_pos = value["args"], f"{path}.args", (*pos, index["args"])
        if not isinstance(args, list | tuple):
            self.scan(args, args_path, args_pos)
            return None
        return [self.node(child, f"{args_path}[{i}]", (*args_pos, i), depth + 1) for i, child in enumerate(args)]

    def op_node(self, value: Mapping[str, object], path: str, pos: Pos, index: dict[str, int],
                depth: int) -> Node | None:
        raw = value["op"]
        op = raw.strip().upper() if isinstance(raw, str) else None
        if op not in ("AND", "OR", "NOT"):
            self.error("op_invalid", f"{path}.op", (*pos, index["op"]), "op must be AND, OR or NOT")
            op = None
        args_path = f"{path}.args"
        if not isinstance(value.get("args"), list | tuple):
            args_pos = (*pos, index["args"]) if "args" in value else (*pos, len(value))
            self.error("args_not_list", args_path, args_pos, "op args must be an array of nodes")
            self.children(value, path, pos, index, depth)
            return None
        before = self.error_count
        children = self.children(value, path, pos, index, depth) or []
        args_pos = (*pos, index["args"])
        if op in ("AND", "OR") and not children:
            self.error("args_empty", args_path, args_pos, f"{op} needs at least one child")
        if op == "NOT" and len(children) != 1:
            self.error("not_arity", args_path, args_pos, "NOT needs exactly one child")
        valid = [child for child in children if child is not None]
        if op is None or self.error_count != before or len(valid) != len(children):
            return None
        if op == "NOT":
            return Not(valid[0], path)
        self.duplicate_children(valid, args_pos)
        return And(tuple(valid), path) if op == "AND" else Or(tuple(valid), path)

    def duplicate_children(self, children: list[Node], args_pos: Pos) -> None:
        seen: set[str] = set()
        for i, child in enumerate(children):
            key = json.dumps(node_document(child), sort_keys=True)
            if key in seen:
                self.warn("duplicate_child", child.path, (*args_pos, i), "identical child of the same operator")
            seen.add(key)

    def fn_node(self, value: Mapping[str, object], path: str, pos: Pos, index: dict[str, int]) -> Node | None:
        raw = value["fn"]
        fn = raw.strip().lower() if isinstance(raw, str) else None
        if fn not in _FN_ARGS:
            self.error("fn_invalid", f"{path}.fn", (*pos, index["fn"]), "unknown function")
            fn = None
        args_path = f"{path}.args"
        args_pos = (*pos, index["args"]) if "args" in value else (*pos, len(value))
        args = value.get("args")
        if args is not None and not isinstance(args, Mapping):
            self.error("args_not_object", args_path, args_pos, "fn args must be an object or null")
            self.scan(args, args_path, args_pos)
            return None
        args = args if args is not None else {}
        self.duplicates(args, args_path, args_pos)
        if fn is None:
            for i, (key, child) in enumerate(args.items()):
                self.scan(child, _key_path(args_path, key), (*args_pos, i))
            return None
        return _FnArgs(self, fn, args, path, args_path, args_pos).build()


class _FnArgs:
    """Validation of one function's arguments."""

    def __init__(self, checker: _Checker, fn: str, args: Mapping[str, object], path: str, args_path: str,
                 args_pos: Pos) -> None:
        self.c, self.fn, self.args, self.path = checker, fn, args, path
        self.args_path, self.args_pos = args_path, args_pos
        self.index = {key: i for i, key in enumerate(args)}

    def at(self, key: str) -> tuple[str, Pos]:
        return _key_path(self.args_path, key), (*self.args_pos, self.index.get(key, len(self.args)))

    def build(self) -> Node | None:
        required, optional = _FN_ARGS[self.fn]
        for key, value in self.args.items():
            if key not in required and key not in optional:
                path, pos = self.at(key)
                self.c.error("unknown_key", path, pos, f"unknown argument {key!r} for {self.fn}")
                self.c.scan(value, path, pos)
        for key in required:
            if key not in self.args:
                path, pos = self.at(key)
                self.c.error("arg_missing", path, pos, f"{self.fn} needs argument {key!r}")
        before = self.c.error_count
        node = self.parse()
        return node if self.c.error_count == before and all(k in self.args for k in required) else None

    def string(self, key: str, value: object | None = None, where: tuple[str, Pos] | None = None) -> str | None:
        if where is None:
            if key not in self.args:
                return None
            value = self.args[key]
        path, pos = where or self.at(key)
        if not isinstance(value, str):
            self.c.error("arg_type", path, pos, f"{key} must be a string")
            self.c.scan(value, path, pos)
            return None
        if len(value) > MAX_STRING:
            self.c.error("string_too_long", path, pos, f"{key} is longer than {MAX_STRING} characters")
            return None
        if not value.strip():
            self.c.error("arg_blank", path, pos, f"{key} must not be blank")
            return None
        return value

    def boolean(self, key: str) -> bool:
        value = self.args.get(key, False)
        if not isinstance(value, bool):
            path, pos = self.at(key)
            self.c.error("arg_type", path, pos, f"{key} must be a JSON boolean")
            return False
        return value

    def strings(self, key: str) -> list[tuple[str, str, Pos]]:
        if key not in self.args:
            return []
        value = self.args[key]
        path, pos = self.at(key)
        if not isinstance(value, list | tuple):
            self.c.error("arg_type", path, pos, f"{key} must be an array of strings")
            self.c.scan(value, path, pos)
            return []
        if not value:
            self.c.error("list_empty", path, pos, f"{key} must not be empty")
        elif len(value) > MAX_LIST_ITEMS:
            self.c.error("list_too_long", path, pos, f"{key} has more than {MAX_LIST_ITEMS} items")
        items = []
        for i, item in enumerate(value):
            where = (f"{path}[{i}]", (*pos, i))
            text = self.string(key, item, where)
            if text is not None:
                items.append((text, *where))
        return items

    def whitespace(self, text: str | None, what: str, key: str) -> None:
        if text is not None and text != text.strip():
            path, pos = self.at(key)
            self.c.warn("identifier_whitespace", path, pos, f"{what} {text!r} has surrounding whitespace")

    def parse(self) -> Node | None:
        c, path = self.c, self.path
        match self.fn:
            case "db_type_in":
                engines = set()
                for text, item_path, item_pos in self.strings("types"):
                    canonical = ENGINE_NAMES.get(text.strip().lower())
                    if canonical is None:
                        c.error("engine_unknown", item_path, item_pos, f"{text!r} is not an engine name")
                    else:
                        engines.add(canonical)
                return DbTypeIn(frozenset(engines), path)
            case "is_superuser":
                return IsSuperuser(self.boolean("via_roles"), path)
            case "has_capability":
                name = self.string("name")
                capability = canonical_capability(name) if name is not None else None
                if name is not None and capability is None:
                    c.error("capability_unknown", *self.at("name"), f"{name!r} is not a capability")
                elif name is not None and is_capability_alias(name):
                    c.warn("alias_deprecated", *self.at("name"), f"{name!r} is a legacy alias of {capability}")
                return HasCapability(name=capability or "", via_roles=self.boolean("via_roles"), path=path)
            case "has_role":
                return self.role()
            case "has_privilege" | "has_any_privilege":
                return self.privilege()
        return None  # pragma: no cover - fn validated by the caller

    def role(self) -> HasRole:
        name, database = self.string("name"), self.string("database")
        self.whitespace(name, "role name", "name")
        self.whitespace(database, "database name", "database")
        engine, catalog = self.c.engine, self.c.catalog
        if name is not None and catalog is not None and (variant := catalog.role_case_variant(name)):
            self.c.warn("name_case_mismatch", *self.at("name"), f"role {name!r} differs from {variant!r} by case")
        if name is not None and name.upper() == "PUBLIC" and engine in _PUBLIC_ENGINES:
            self.c.warn("always_true", self.path, (*self.args_pos[:-1],), "every principal holds PUBLIC")
        return HasRole(name=name or "", database=database, via_roles=self.boolean("via_roles"), path=self.path)

    def privilege(self) -> Node:
        c, engine = self.c, self.c.engine
        items = self.strings("names") if self.fn == "has_any_privilege" else [
            (text, *self.at("name")) for text in [self.string("name")] if text is not None
        ]
        scope_text = self.string("scope")
        scope = parse_scope(scope_text) if scope_text is not None else None
        if scope_text is not None and scope is None:
            c.error("scope_unknown", *self.at("scope"), f"{scope_text!r} is not a scope")
        database = self.string("database")
        if database is not None and scope in (Scope.GLOBAL, Scope.TABLESPACE):
            c.error("arg_not_applicable", *self.at("database"), f"database is not allowed with scope {scope_text}")
        obj = self.object()
        names = []
        for text, item_path, item_pos in items:
            canonical = normalize_privilege_name(engine, text)
            if canonical in NOT_PRIVILEGES:
                c.error("not_a_privilege", item_path, item_pos, f"{text!r} is not a privilege name")
                continue
            names.append(canonical)
            self.catalog_warnings(canonical, scope, item_path, item_pos)
        self.whitespace(database, "database name", "database")
        if obj is not None and any(part != part.strip() for part in obj):
            c.warn("identifier_whitespace", *self.at("object"), "an object part has surrounding whitespace")
        if engine is not None:
            if database is not None and engine is DbEngine.ORACLE:
                c.warn("arg_not_applicable_for_engine", *self.at("database"), "Oracle has no database component")
            if (scope is Scope.SCHEMA and engine is DbEngine.MYSQL) or (
                scope is Scope.TABLESPACE and engine in (DbEngine.MYSQL, DbEngine.SQLSERVER)
            ):
                c.warn("arg_not_applicable_for_engine", *self.at("scope"), f"{engine.value} has no {scope} scope")
        word = scope_text.strip().lower() if scope_text is not None else ""
        scope_word = word if word in SCOPE_SYNONYMS else None
        via_roles, grant_option = self.boolean("via_roles"), self.boolean("grant_option")
        if self.fn == "has_privilege":
            return HasPrivilege(name=names[0] if names else "", scope=scope or Scope.GLOBAL, database=database,
                                object=obj, via_roles=via_roles, grant_option=grant_option, path=self.path,
                                scope_word=scope_word)
        return HasAnyPrivilege(names=tuple(sorted(set(names))), scope=scope or Scope.GLOBAL, database=database,
                               object=obj, via_roles=via_roles, grant_option=grant_option, path=self.path,
                               scope_word=scope_word)

    def catalog_warnings(self, name: str, scope: Scope | None, path: str, pos: Pos) -> None:
        engine, catalog = self.c.engine, self.c.catalog
        if engine is DbEngine.MYSQL and name == "USAGE" and scope is Scope.GLOBAL:
            self.c.warn("always_true", path, pos, "every MySQL account holds USAGE at global scope")
        elif catalog is not None and not catalog.is_known(name):
            self.c.warn("privilege_not_in_catalog", path, pos, f"{name} is not in the {catalog.engine} catalog")
        elif catalog is not None and scope is not None and scope not in catalog.scopes_for(name):
            self.c.warn("privilege_scope_mismatch", path, pos, f"{name} is never granted at {scope} scope")

    def object(self) -> tuple[str, ...] | None:
        if "object" not in self.args:
            return None
        value = self.args["object"]
        path, pos = self.at("object")
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                self.c.error("string_too_long", path, pos, f"object is longer than {MAX_STRING} characters")
                return None
            parts: list[object] = list(value.split("."))
        elif isinstance(value, list | tuple):
            parts = list(value)
        else:
            self.c.error("object_invalid", path, pos, "object must be a string or an array of strings")
            self.c.scan(value, path, pos)
            return None
        if not 1 <= len(parts) <= 4 or not all(isinstance(p, str) and p for p in parts):
            self.c.error("object_invalid", path, pos, "object needs 1-4 non-empty parts")
            return None
        texts = tuple(str(part) for part in parts)
        if any(len(part) > MAX_STRING for part in texts):
            self.c.error("string_too_long", path, pos, f"an object part is longer than {MAX_STRING} characters")
            return None
        return texts


def _possible_engines(node: Node) -> frozenset[str]:
    """Engines for which the expression can be true (conservative: NOT and non-engine leaves allow all)."""
    match node:
        case And(children):
            result = _ALL_ENGINES
            for child in children:
                result = result & _possible_engines(child)
            return result
        case Or(children):
            return frozenset().union(*(_possible_engines(child) for child in children))
        case DbTypeIn(engines):
            return frozenset(_ENGINE_OF.get(engine, engine) for engine in engines)
        case Not() | IsSuperuser() | HasCapability() | HasRole() | HasPrivilege() | HasAnyPrivilege():
            return _ALL_ENGINES
        case _:
            assert_never(node)


def canonical_args(leaf: Leaf, *, fingerprint: bool = False) -> dict[str, object]:
    """Canonical arguments of a leaf (sorted keys, defaults omitted); `fingerprint` maps scope synonyms to global."""
    args: dict[str, object]
    match leaf:
        case DbTypeIn(engines):
            args = {"types": sorted(engines)}
        case IsSuperuser(via_roles):
            args = {"via_roles": True} if via_roles else {}
        case HasCapability(name=name, via_roles=via_roles):
            args = {"name": name, "via_roles": True} if via_roles else {"name": name}
        case HasRole(name=name, database=database, via_roles=via_roles):
            args = {"name": name, "database": database, "via_roles": via_roles or None}
        case HasPrivilege() | HasAnyPrivilege():
            names: dict[str, object] = (
                {"name": leaf.name} if isinstance(leaf, HasPrivilege) else {"names": sorted(set(leaf.names))}
            )
            scope = leaf.scope.value if fingerprint or leaf.scope_word is None else leaf.scope_word
            args = {**names, "scope": scope, "database": leaf.database,
                    "object": list(leaf.object) if leaf.object is not None else None,
                    "via_roles": leaf.via_roles or None, "grant_option": leaf.grant_option or None}
        case _:
            assert_never(leaf)
    return {key: value for key, value in sorted(args.items()) if value is not None}


_FN_NAMES: Final = MappingProxyType({
    DbTypeIn: "db_type_in", IsSuperuser: "is_superuser", HasCapability: "has_capability", HasRole: "has_role",
    HasPrivilege: "has_privilege", HasAnyPrivilege: "has_any_privilege",
})


def fn_name(leaf: Leaf) -> str:
    """The DSL function name of a leaf."""
    return _FN_NAMES[type(leaf)]


def node_document(node: Node, *, fingerprint: bool = False) -> dict[str, object]:
    """Canonical JSON form of a node (op upper-case, fn lower-case, keys sorted, child order kept)."""
    match node:
        case And(children) | Or(children):
            op = "AND" if isinstance(node, And) else "OR"
            return {"args": [node_document(c, fingerprint=fingerprint) for c in children], "op": op}
        case Not(child):
            return {"args": [node_document(child, fingerprint=fingerprint)], "op": "NOT"}
        case DbTypeIn() | IsSuperuser() | HasCapability() | HasRole() | HasPrivilege() | HasAnyPrivilege():
            args = canonical_args(node, fingerprint=fingerprint)
            return {"args": args, "fn": fn_name(node)} if args else {"fn": fn_name(node)}
        case _:
            assert_never(node)


def fingerprint_of(expr: Node) -> str:
    """SHA-256 (hex) of the canonical document without meta, scope synonyms mapped to global (§4.3)."""
    doc = {"expr": node_document(expr, fingerprint=True), "version": DSL_VERSION}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_document(rule: Rule) -> dict[str, object]:
    """The canonical document stored for a rule (§4.3); parsing it yields an equal `Rule`."""
    if not isinstance(rule, Rule):
        raise TypeError("to_document expects a Rule")
    doc: dict[str, object] = {"expr": node_document(rule.expr)}
    if rule.meta is not None:
        doc["meta"] = copy.deepcopy(dict(rule.meta))
    doc["version"] = DSL_VERSION
    return doc


def validate_rule(
    doc: Mapping[str, object] | str | bytes, *, engine: DbEngine | None = None, catalog: PrivilegeCatalog | None = None
) -> ValidationReport:
    """Validate a rule document, reporting every error and warning sorted by document position.

    Context warnings (catalog, engine applicability) need `engine` and/or `catalog` (each implies the other).
    Never raises for document content; raises TypeError for arguments of the wrong type.
    """
    checker = _Checker(engine, catalog)
    data = checker.load(doc)
    node, meta = checker.root(data) if data is not _MISSING else (None, None)
    issues = [issue for _, _, issue in sorted(checker.issues, key=lambda item: (item[0], item[1]))]
    errors = tuple(issue for issue in issues if issue.severity == "error")
    warnings = tuple(issue for issue in issues if issue.severity == "warning")
    if errors or node is None:
        return ValidationReport(errors, warnings, None)
    frozen_meta = MappingProxyType(copy.deepcopy(dict(meta))) if meta is not None else None
    return ValidationReport(errors, warnings, Rule(node, fingerprint_of(node), warnings, frozen_meta))


def parse_rule(
    doc: Mapping[str, object] | str | bytes, *, engine: DbEngine | None = None, catalog: PrivilegeCatalog | None = None
) -> Rule:
    """Parse and validate a rule document; raises `RuleValidationError` carrying all errors and warnings."""
    report = validate_rule(doc, engine=engine, catalog=catalog)
    if report.rule is None:
        raise RuleValidationError(report.errors, report.warnings)
    return report.rule
