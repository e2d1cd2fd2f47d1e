"""Explanation of one (rule, account) evaluation: every node's value, evidence, denies and near misses (§6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, assert_never

from whalefall.domain.classification.evaluator import (
    EvaluationError,
    blocking_denies,
    grant_fits,
    is_public_name,
    leaf_error,
    leaf_value,
    privilege_names,
    public_role_applies,
    role_candidates,
    usage_always,
)
from whalefall.domain.classification.parser import canonical_args, fn_name
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
    privilege_names_of,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import GrantFact, PermissionFacts, Reason, RoleFact, format_instant
from whalefall.domain.privileges.names import Scope

SortKey = tuple[object, ...]
JsonDoc = dict[str, object]
MAX_EVIDENCE: Final = 20
MAX_NEAR_MISSES: Final = 5
NEAR_MISS_REASONS: Final = ("case_only", "other_database", "other_object", "other_scope", "requires_via_roles",
                            "pattern_covers", "other_host")


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantEvidence:
    """A grant (or deny) fact as shown by explain; `source` is rendered `direct`, `role:<key>` or `public`."""

    privilege: str
    scope: Scope
    database: str | None
    object: tuple[str, ...]
    grant_option: bool
    effect: str
    source: str
    via: str | None
    role_path: tuple[str, ...]
    mode: str | None
    implicit: bool
    stale: bool

    @classmethod
    def of(cls, grant: GrantFact) -> GrantEvidence:
        source = f"role:{grant.via}" if grant.source == "role" else grant.source
        return cls(privilege=grant.privilege, scope=grant.scope, database=grant.database, object=grant.object,
                   grant_option=grant.grant_option, effect=grant.effect, source=source, via=grant.via,
                   role_path=grant.path, mode=grant.mode, implicit=grant.implicit, stale=grant.stale)

    def sort_key(self) -> SortKey:
        return (self.privilege, self.scope.order, self.database or "", self.object, self.effect, self.source,
                self.role_path)

    def to_json(self) -> JsonDoc:
        return {"privilege": self.privilege, "scope": self.scope.value, "database": self.database,
                "object": list(self.object), "grant_option": self.grant_option, "effect": self.effect,
                "source": self.source, "via": self.via, "role_path": list(self.role_path), "mode": self.mode,
                "implicit": self.implicit, "stale": self.stale}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleEvidence:
    """A role fact as shown by explain."""

    role: str
    database: str | None
    role_path: tuple[str, ...]
    mode: str

    @classmethod
    def of(cls, role: RoleFact) -> RoleEvidence:
        return cls(role=role.name, database=role.database, role_path=role.path, mode=role.mode)

    def sort_key(self) -> SortKey:
        return (self.role, self.database or "", self.role_path)

    def to_json(self) -> JsonDoc:
        return {"role": self.role, "database": self.database, "role_path": list(self.role_path), "mode": self.mode}


@dataclass(frozen=True, slots=True, kw_only=True)
class CapabilityEvidence:
    """A held capability with the reasons the facts give for it."""

    capability: str
    reasons: tuple[Reason, ...]

    def sort_key(self) -> SortKey:
        return (self.capability,)

    def to_json(self) -> JsonDoc:
        return {"capability": self.capability,
                "reasons": [{"basis": r.basis, "detail": r.detail, "path": list(r.path)} for r in self.reasons]}


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineEvidence:
    """The account's engine and flavor (for `db_type_in`)."""

    engine: str
    flavor: str | None

    def to_json(self) -> JsonDoc:
        return {"engine": self.engine, "flavor": self.flavor}


Evidence = GrantEvidence | RoleEvidence | CapabilityEvidence | EngineEvidence


@dataclass(frozen=True, slots=True, kw_only=True)
class NearMiss:
    """A fact that would have matched but for one difference (`reason` ∈ NEAR_MISS_REASONS)."""

    reason: str
    field: str
    expected: str | None
    actual: str | None
    fact: GrantEvidence | RoleEvidence | CapabilityEvidence

    def sort_key(self) -> SortKey:
        return (NEAR_MISS_REASONS.index(self.reason), self.fact.sort_key())

    def to_json(self) -> JsonDoc:
        return {"reason": self.reason, "field": self.field, "expected": self.expected, "actual": self.actual,
                "fact": self.fact.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplainNode:
    """One evaluated node; `value` None means an error in this leaf or below."""

    path: str
    kind: Literal["op", "fn"]
    name: str
    value: bool | None
    args: dict[str, object] | None = None
    error: EvaluationError | None = None
    children: tuple[ExplainNode, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    evidence_truncated: int = 0
    blocked_by: tuple[GrantEvidence, ...] | None = None
    near_misses: tuple[NearMiss, ...] = ()

    def to_json(self) -> JsonDoc:
        doc: dict[str, object] = {"path": self.path, "kind": self.kind, "name": self.name}
        if self.kind == "op":
            doc["value"] = self.value
            doc["children"] = [child.to_json() for child in self.children]
            return doc
        doc["args"] = self.args
        doc["value"] = self.value
        doc["error"] = {"code": self.error.code, "message": self.error.message} if self.error else None
        doc["evidence"] = [item.to_json() for item in self.evidence]
        doc["evidence_truncated"] = self.evidence_truncated
        if self.blocked_by is not None:
            doc["blocked_by"] = [item.to_json() for item in self.blocked_by]
        doc["near_misses"] = [item.to_json() for item in self.near_misses]
        return doc


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Deterministic explanation of one (rule, account) pair; `to_json()` gives the §6 document."""

    outcome: Literal["match", "no_match", "error"]
    matched: bool
    errors: tuple[EvaluationError, ...]
    engine: DbEngine
    flavor: str | None
    namespace: str
    key: str
    as_of: str
    rule_id: object | None
    rule_revision: int | None
    fingerprint: str
    tree: ExplainNode

    def to_json(self) -> JsonDoc:
        return {
            "outcome": self.outcome,
            "matched": self.matched,
            "errors": [{"code": e.code, "path": e.path, "message": e.message} for e in self.errors],
            "account": {"engine": self.engine.value, "flavor": self.flavor, "namespace": self.namespace,
                        "key": self.key},
            "as_of": self.as_of,
            "rule": {"id": self.rule_id, "rule_revision": self.rule_revision, "fingerprint": self.fingerprint},
            "tree": self.tree.to_json(),
        }


def _capped(items: list[Evidence]) -> tuple[tuple[Evidence, ...], int]:
    return tuple(items[:MAX_EVIDENCE]), max(0, len(items) - MAX_EVIDENCE)


def _like_covers(pattern: str, name: str) -> bool:
    """MySQL LIKE semantics of a database-level grant: `%` any run, `_` one character, `\\x` a literal x."""
    tokens: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            tokens.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            tokens.append("\0%" if char == "%" else "\0_" if char == "_" else char)
    return _match_tokens(tokens, name)


def _match_tokens(tokens: list[str], text: str) -> bool:
    # Classic wildcard DP over (token index, text index); patterns are short database names.
    reachable = {0}
    for token in tokens:
        following: set[int] = set()
        for position in sorted(reachable):
            if token == "\0%":
                following.update(range(position, len(text) + 1))
            elif position < len(text) and (token == "\0_" or text[position] == token):
                following.add(position + 1)
        reachable = following
    return len(text) in reachable


def _name_diff(field: str, expected: str, actual: str | None, *, pattern: bool = False) -> tuple[str, str]:
    if actual is not None and actual.casefold() == expected.casefold():
        return "case_only", field
    if pattern and actual is not None and _like_covers(actual, expected):
        return "pattern_covers", field
    return ("other_database" if field == "database" else "other_object"), field


def _privilege_leaf(leaf: HasPrivilege | HasAnyPrivilege, facts: PermissionFacts) -> ExplainNode:
    names = privilege_names(facts.engine, privilege_names_of(leaf))
    value = leaf_value(leaf, facts)
    evidence: list[Evidence] = []
    blocked: dict[GrantFact, None] = {}
    if usage_always(leaf, facts.engine, names):
        evidence.append(GrantEvidence(privilege="USAGE", scope=Scope.GLOBAL, database=None, object=(),
                                      grant_option=False, effect="grant", source="direct", via=None, role_path=(),
                                      mode=None, implicit=True, stale=False))
    misses: list[NearMiss] = []
    for grant in facts.grants:
        if grant.effect != "grant" or grant.privilege not in names:
            continue
        if grant.scope is leaf.scope and grant_fits(leaf, grant):
            denies = blocking_denies(grant, facts)
            if denies:
                blocked.update(dict.fromkeys(denies))
            else:
                evidence.append(GrantEvidence.of(grant))
            continue
        diffs: list[tuple[str, str, str | None, str | None]] = []
        if grant.scope is not leaf.scope:
            diffs.append(("other_scope", "scope", leaf.scope.value, grant.scope.value))
        if leaf.database is not None and grant.database != leaf.database:
            reason, field = _name_diff("database", leaf.database, grant.database, pattern=grant.pattern)
            diffs.append((reason, field, leaf.database, grant.database))
        if grant.scope is leaf.scope and leaf.object is not None and grant.object != leaf.object:
            expected, actual = ".".join(leaf.object), ".".join(grant.object)
            reason, field = _name_diff("object", expected, actual)
            diffs.append((reason, field, expected, actual))
        if leaf.grant_option and not grant.grant_option:
            diffs.append(("grant_option", "grant_option", "true", "false"))
        if not leaf.via_roles and grant.source != "direct":
            diffs.append(("requires_via_roles", "source", "direct", GrantEvidence.of(grant).source))
        if len(diffs) == 1 and diffs[0][0] in NEAR_MISS_REASONS:
            misses.append(NearMiss(reason=diffs[0][0], field=diffs[0][1], expected=diffs[0][2],
                                   actual=diffs[0][3], fact=GrantEvidence.of(grant)))
    evidence.sort(key=lambda item: item.sort_key() if isinstance(item, GrantEvidence) else ())
    shown, truncated = _capped(evidence) if value else ((), 0)
    return _leaf_node(leaf, facts, value, shown, truncated, misses,
                      tuple(sorted((GrantEvidence.of(d) for d in blocked), key=GrantEvidence.sort_key)))


def _user_part(name: str) -> str:
    return name.rpartition("@")[0] if "@" in name else name


def _role_leaf(leaf: HasRole, facts: PermissionFacts) -> ExplainNode:
    value = leaf_value(leaf, facts)
    candidates = role_candidates(facts.engine, leaf.name)
    evidence: list[Evidence] = []
    if is_public_name(leaf.name) and public_role_applies(facts):
        evidence.append(RoleEvidence(role="PUBLIC", database=leaf.database, role_path=(), mode="inherit"))
    misses: list[NearMiss] = []
    for role in facts.roles:
        diffs: list[tuple[str, str, str | None, str | None]] = []
        if role.name not in candidates:
            if any(role.name.casefold() == c.casefold() for c in candidates):
                diffs.append(("case_only", "role", leaf.name, role.name))
            elif facts.engine is DbEngine.MYSQL and "@" in role.name and _user_part(role.name) == _user_part(
                    leaf.name):
                diffs.append(("other_host", "role", leaf.name, role.name))
            else:
                continue
        if leaf.database is not None and role.database != leaf.database:
            reason, field = _name_diff("database", leaf.database, role.database)
            diffs.append((reason, field, leaf.database, role.database))
        if not leaf.via_roles and not role.direct:
            diffs.append(("requires_via_roles", "direct", "true", "false"))
        if not diffs:
            evidence.append(RoleEvidence.of(role))
        elif len(diffs) == 1:
            misses.append(NearMiss(reason=diffs[0][0], field=diffs[0][1], expected=diffs[0][2],
                                   actual=diffs[0][3], fact=RoleEvidence.of(role)))
    evidence.sort(key=lambda item: item.sort_key() if isinstance(item, RoleEvidence) else ())
    shown, truncated = _capped(evidence) if value else ((), 0)
    return _leaf_node(leaf, facts, value, shown, truncated, misses, None)


def _capability_leaf(leaf: IsSuperuser | HasCapability, facts: PermissionFacts) -> ExplainNode:
    name = "SUPERUSER" if isinstance(leaf, IsSuperuser) else leaf.name
    value = leaf_value(leaf, facts)
    fact = CapabilityEvidence(capability=name, reasons=tuple(facts.capability_reasons.get(name, ())))
    misses = []
    if not value and name in facts.capabilities_via_roles:
        misses.append(NearMiss(reason="requires_via_roles", field="via_roles", expected="false", actual="true",
                               fact=fact))
    return _leaf_node(leaf, facts, value, (fact,) if value else (), 0, misses, None)


def _leaf_node(leaf: Leaf, facts: PermissionFacts, value: bool, evidence: tuple[Evidence, ...], truncated: int,
               misses: list[NearMiss], blocked: tuple[GrantEvidence, ...] | None) -> ExplainNode:
    error = leaf_error(leaf, facts, value)
    near = tuple(sorted(misses, key=NearMiss.sort_key)[:MAX_NEAR_MISSES]) if not value else ()
    return ExplainNode(path=leaf.path, kind="fn", name=fn_name(leaf), args=canonical_args(leaf),
                       value=None if error else value, error=error, evidence=evidence, evidence_truncated=truncated,
                       blocked_by=blocked, near_misses=near)


def _op(node: And | Or | Not, facts: PermissionFacts, errors: list[EvaluationError]) -> ExplainNode:
    kids = (node.child,) if isinstance(node, Not) else node.children
    explained = tuple(_node(child, facts, errors) for child in kids)
    values = [child.value for child in explained]
    value: bool | None
    if any(v is None for v in values):
        value = None
    elif isinstance(node, And):
        value = all(values)
    elif isinstance(node, Or):
        value = any(values)
    else:
        value = not values[0]
    name = "AND" if isinstance(node, And) else "OR" if isinstance(node, Or) else "NOT"
    return ExplainNode(path=node.path, kind="op", name=name, value=value, children=explained)


def _node(node: Node, facts: PermissionFacts, errors: list[EvaluationError]) -> ExplainNode:
    match node:
        case And() | Or() | Not():
            return _op(node, facts, errors)
        case DbTypeIn():
            value = leaf_value(node, facts)
            shown: tuple[Evidence, ...] = (EngineEvidence(engine=facts.engine.value, flavor=facts.flavor),)
            explained = _leaf_node(node, facts, value, shown if value else (), 0, [], None)
        case IsSuperuser() | HasCapability():
            explained = _capability_leaf(node, facts)
        case HasRole():
            explained = _role_leaf(node, facts)
        case HasPrivilege() | HasAnyPrivilege():
            explained = _privilege_leaf(node, facts)
        case _:
            assert_never(node)
    if explained.error is not None:
        errors.append(explained.error)
    return explained


def explain(
    rule: Rule, facts: PermissionFacts, *, rule_id: object | None = None, rule_revision: int | None = None,
    engine: DbEngine | None = None,
) -> Explanation:
    """Explain `rule` for one account. The tree root's value equals `evaluate` when there is no error (else None).

    With `engine` (the rule's engine), an account of another engine is answered with outcome `error`
    (`engine_mismatch`). Never raises for data problems; TypeError for arguments of the wrong type.
    """
    if not isinstance(rule, Rule) or not isinstance(facts, PermissionFacts):
        raise TypeError("explain expects a Rule and PermissionFacts")
    errors: list[EvaluationError] = []
    if engine is not None and facts.engine is not engine:
        errors.append(EvaluationError("engine_mismatch", "$", f"the account's engine is {facts.engine.value}, "
                                                              f"the rule's is {engine.value}"))
    tree = _node(rule.expr, facts, errors)
    matched = tree.value is True and not errors
    outcome: Literal["match", "no_match", "error"] = "error" if errors else "match" if matched else "no_match"
    return Explanation(outcome=outcome, matched=matched, errors=tuple(errors), engine=facts.engine,
                       flavor=facts.flavor, namespace=facts.account.namespace, key=facts.account.key,
                       as_of=format_instant(facts.as_of), rule_id=rule_id, rule_revision=rule_revision,
                       fingerprint=rule.fingerprint, tree=tree)
