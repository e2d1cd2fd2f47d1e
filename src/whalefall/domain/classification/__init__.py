"""Embedding surface of the classification DSL v4 core (classification.md §12): the public names, re-exported."""

from whalefall.domain.classification.assign import AssignmentPlan, Match, choose_primary, plan_assignments
from whalefall.domain.classification.batch import (
    BatchResult,
    CompiledRuleSet,
    FactsIndex,
    build_index,
    classify,
    classify_detailed,
    compile_rules,
)
from whalefall.domain.classification.evaluator import EvaluationError, Outcome, evaluate, evaluate_outcome
from whalefall.domain.classification.explain import Explanation, explain
from whalefall.domain.classification.parser import (
    RuleValidationError,
    ValidationReport,
    parse_rule,
    to_document,
    validate_rule,
)
from whalefall.domain.classification.rules import (
    And,
    DbTypeIn,
    HasAnyPrivilege,
    HasCapability,
    HasPrivilege,
    HasRole,
    IsSuperuser,
    Node,
    Not,
    Or,
    Rule,
    ValidationIssue,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import PrivilegeCatalog, catalog_for
from whalefall.domain.privileges.facts import PermissionFacts
from whalefall.domain.privileges.names import (
    CAPABILITIES,
    CAPABILITY_ALIASES,
    Scope,
    canonical_capability,
    normalize_privilege_name,
)

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_ALIASES",
    "And",
    "AssignmentPlan",
    "BatchResult",
    "CompiledRuleSet",
    "DbEngine",
    "DbTypeIn",
    "EvaluationError",
    "Explanation",
    "FactsIndex",
    "HasAnyPrivilege",
    "HasCapability",
    "HasPrivilege",
    "HasRole",
    "IsSuperuser",
    "Match",
    "Node",
    "Not",
    "Or",
    "Outcome",
    "PermissionFacts",
    "PrivilegeCatalog",
    "Rule",
    "RuleValidationError",
    "Scope",
    "ValidationIssue",
    "ValidationReport",
    "build_index",
    "canonical_capability",
    "catalog_for",
    "choose_primary",
    "classify",
    "classify_detailed",
    "compile_rules",
    "evaluate",
    "evaluate_outcome",
    "explain",
    "normalize_privilege_name",
    "parse_rule",
    "plan_assignments",
    "to_document",
    "validate_rule",
]
