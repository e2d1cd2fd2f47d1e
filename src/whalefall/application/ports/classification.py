"""Ports of the classification context: classifications and rules, assignments and their history, and the narrow
facts source over the accounts ledger (classification.md §8-11)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.classification.rules import ValidationIssue
from whalefall.domain.errors import AlreadyExistsError, InUseError, Problem, UnprocessableError
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.facts import PermissionFacts


class RuleNameTakenError(AlreadyExistsError):
    """A non-deleted rule of the same (classification, db_type) has this name."""

    code = "RULE_NAME_TAKEN"

    def __init__(self) -> None:
        super().__init__("body.name", "a rule with this name exists for the classification and db_type")


class RuleExpressionDuplicatedError(AlreadyExistsError):
    """An active rule of the same (classification, db_type) has the same fingerprint."""

    code = "RULE_EXPRESSION_DUPLICATED"

    def __init__(self, rule_id: int | None = None) -> None:
        super().__init__("body.expression", "an active rule of this classification and db_type has the same "
                                            "expression")
        self.context = {"rule_id": rule_id} if rule_id is not None else {}


class ClassificationInUseError(InUseError):
    """Delete refused: the classification still has non-deleted rules or assignments (counts in context)."""

    code = "CLASSIFICATION_IN_USE"

    def __init__(self, rule_count: int, assignment_count: int) -> None:
        super().__init__("the classification still has rules or assignments",
                         context={"rule_count": rule_count, "assignment_count": assignment_count})


class RuleInvalidError(UnprocessableError):
    """The rule document has errors (422 RULE_INVALID): one detail per error, `$` replaced by `body.expression`."""

    code = "RULE_INVALID"
    default_message = "The rule is invalid"

    def __init__(self, errors: Sequence[ValidationIssue], *, prefix: str = "body.expression") -> None:
        self.issues = tuple(errors)
        super().__init__(f"{len(self.issues)} rule problem(s)", problems=[
            Problem(prefix + issue.path.removeprefix("$"), issue.code, issue.message) for issue in self.issues])


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationView:
    id: int
    code: str
    display_name: str
    description: str | None
    risk_level: int
    priority: int
    icon: str
    is_system: bool
    is_active: bool
    rule_count: int
    account_count: int
    created_at: datetime
    updated_at: datetime
    revision: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NewClassification:
    code: str
    display_name: str
    description: str | None
    risk_level: int
    priority: int
    icon: str
    is_active: bool
    is_system: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationQuery:
    q: str | None = None
    is_system: bool | None = None
    is_active: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleView:
    """A stored rule; `expression` is the canonical document of its current revision."""

    id: int
    name: str
    classification_id: int
    db_type: DbEngine
    description: str | None
    expression: Mapping[str, object]
    fingerprint: str
    is_active: bool
    rule_revision: int
    warnings: tuple[ValidationIssue, ...]
    created_by: int | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    revision: int
    matched_account_count: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRule:
    name: str
    classification_id: int
    db_type: DbEngine
    description: str | None
    expression: Mapping[str, object]
    fingerprint: str
    warnings: tuple[ValidationIssue, ...]
    is_active: bool
    created_by: int | None
    created_by_name: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleQuery:
    classification_ids: frozenset[int] = frozenset()
    db_types: frozenset[DbEngine] = frozenset()
    is_active: bool | None = None
    include_deleted: bool = False
    q: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRevisionView:
    rule_id: int
    rule_revision: int
    expression: Mapping[str, object]
    fingerprint: str
    created_by: int | None
    created_by_name: str | None
    created_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveRule:
    """A rule auto-classify evaluates: active, not deleted, of an active classification, at its current revision."""

    id: int
    classification_id: int
    db_type: DbEngine
    rule_revision: int
    expression: Mapping[str, object]


class ClassificationStore(Protocol):
    """Classifications, rules, rule revisions and the `rules_revision` counter, in the caller's unit of work."""

    @abstractmethod
    async def list_classifications(self, query: ClassificationQuery,
                                   page: PageRequest) -> Page[ClassificationView]: ...

    @abstractmethod
    async def all_classifications(self) -> list[ClassificationView]: ...

    @abstractmethod
    async def get_classification(self, classification_id: int) -> ClassificationView | None: ...

    @abstractmethod
    async def insert_classification(self, data: NewClassification, *, now: datetime) -> ClassificationView:
        """Raises AlreadyExistsError (`body.code` / `body.display_name`) for a taken code or display name."""

    @abstractmethod
    async def update_classification(self, classification_id: int, changes: Mapping[str, object], *,
                                    now: datetime) -> ClassificationView:
        """Apply the column changes, revision += 1; raises AlreadyExistsError for a taken display name."""

    @abstractmethod
    async def classification_usage(self, classification_id: int) -> tuple[int, int]:
        """(non-deleted rules, assignments) of the classification."""

    @abstractmethod
    async def delete_classification(self, classification_id: int) -> None: ...

    @abstractmethod
    async def list_rules(self, query: RuleQuery, page: PageRequest) -> Page[RuleView]: ...

    @abstractmethod
    async def get_rule(self, rule_id: int) -> RuleView | None:
        """Any rule, soft-deleted ones included."""

    @abstractmethod
    async def live_rule_named(self, classification_id: int, db_type: DbEngine, name: str) -> int | None:
        """Id of the non-deleted rule with this name in (classification, db_type)."""

    @abstractmethod
    async def active_rule_with_fingerprint(self, classification_id: int, db_type: DbEngine,
                                           fingerprint: str) -> int | None:
        """Id of the active, non-deleted rule with this fingerprint in (classification, db_type)."""

    @abstractmethod
    async def insert_rule(self, data: NewRule, *, now: datetime) -> RuleView:
        """The rule and its revision 1. Unique-index races raise RuleNameTakenError /
        RuleExpressionDuplicatedError."""

    @abstractmethod
    async def update_rule(self, rule_id: int, changes: Mapping[str, object], *, new_revision: bool, now: datetime,
                          actor_id: int | None, actor_name: str | None) -> RuleView:
        """Apply the changes (revision += 1). With `new_revision`, rule_revision += 1, the previous revision is
        superseded at `now` and a revision row holds the new expression."""

    @abstractmethod
    async def soft_delete_rule(self, rule_id: int, *, now: datetime) -> RuleView: ...

    @abstractmethod
    async def rule_revisions(self, rule_id: int, page: PageRequest) -> Page[RuleRevisionView]: ...

    @abstractmethod
    async def revision_at(self, rule_id: int, at: datetime) -> RuleRevisionView | None:
        """The revision current at `at` (created_at ≤ at < superseded_at)."""

    @abstractmethod
    async def bump_rules_revision(self) -> int:
        """rules_revision += 1 in the caller's transaction; the new value."""

    @abstractmethod
    async def rules_revision(self) -> int: ...

    @abstractmethod
    async def active_rules(self, engines: frozenset[DbEngine]) -> list[ActiveRule]:
        """Active, non-deleted rules of active classifications for the engines (all engines when empty)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopedAccount:
    """An active account of an active instance with its facts (None = never synced successfully)."""

    account_id: int
    instance_id: int
    facts: PermissionFacts | None
    state_version_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FactsScope:
    """The accounts of one engine in a selection, and the selection's instances (active, non-deleted)."""

    accounts: tuple[ScopedAccount, ...]
    instance_ids: tuple[int, ...]
    unknown_instance_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFacts:
    account_id: int
    instance_id: int
    engine: DbEngine
    facts: PermissionFacts | None


class AccountFactsSource(Protocol):
    """Permission facts built from the accounts ledger (the only way classification reads accounts)."""

    @abstractmethod
    async def scope(self, engine: DbEngine, instance_ids: frozenset[int] | None, *, as_of: datetime,
                    at: datetime | None = None) -> FactsScope:
        """Active accounts of `engine` on active instances (all when `instance_ids` is None) with facts at `as_of`.
        With `at`, the ledger states valid at `at` (accounts active then); instances never observed before `at`
        are returned in `unknown_instance_ids`."""

    @abstractmethod
    async def account(self, account_id: int, *, as_of: datetime, at: datetime | None = None) -> AccountFacts | None:
        """One account's facts now (or at `at`); None when the account does not exist."""

    @abstractmethod
    async def instances_of(self, instance_ids: frozenset[int] | None,
                           db_types: frozenset[DbEngine]) -> dict[int, DbEngine]:
        """Active, non-deleted instances (filtered) with their engines."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredAuto:
    """A current auto assignment as the apply step sees it."""

    id: int
    account_id: int
    classification_id: int
    instance_id: int
    matched_rules: tuple[tuple[int, int], ...]
    is_primary: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoWrite:
    """One auto pair to insert or update."""

    account_id: int
    classification_id: int
    instance_id: int
    matched_rules: tuple[tuple[int, int], ...]
    is_primary: bool
    explanation_ref: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRow:
    account_id: int
    instance_id: int
    rule_id: int | None
    rule_revision: int | None
    code: str
    path: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentView:
    id: int
    account_id: int
    classification_id: int
    instance_id: int
    source: str
    is_primary: bool
    rule_id: int | None
    rule_revision: int | None
    matched_rules: tuple[tuple[int, int], ...]
    session_id: str | None
    assigned_by: int | None
    assigned_by_name: str | None
    assigned_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentQuery:
    account_ids: frozenset[int] = frozenset()
    classification_ids: frozenset[int] = frozenset()
    instance_ids: frozenset[int] = frozenset()
    source: str | None = None
    is_primary: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryView:
    account_id: int
    classification_id: int
    source: str
    valid_from: datetime
    valid_to: datetime | None
    rule_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyPlan:
    """The writes of one record's apply step (§9 step 8), all in the caller's transaction. `instance_ids` None
    means every instance of the engine; `manual_primary` lists the manual pairs of the scope's `accounts` that are
    their account's primary (other manual rows of those accounts are not)."""

    engine: DbEngine
    instance_ids: tuple[int, ...] | None
    session_id: str
    started_at: datetime
    insert: Sequence[AutoWrite]
    update: Sequence[AutoWrite]
    delete: Sequence[int]
    errors: Sequence[ErrorRow] = field(default_factory=tuple)
    manual_primary: frozenset[tuple[int, int]] = frozenset()
    accounts: tuple[int, ...] = ()


class AssignmentStore(Protocol):
    """Assignments, their history and error rows."""

    @abstractmethod
    async def lock_auto(self, engine: DbEngine, instance_ids: Sequence[int] | None) -> list[StoredAuto]:
        """The current auto assignments of (engine, instances; None = all), locked for the apply transaction."""

    @abstractmethod
    async def manual_pairs(self, account_ids: Sequence[int]) -> list[tuple[int, int]]:
        """(account_id, classification_id) of the manual assignments of the accounts."""

    @abstractmethod
    async def apply(self, plan: ApplyPlan) -> None:
        """Insert (history opened at `started_at`), delete (history closed at `started_at`), update changed rows;
        replace the error rows of (engine, instances). Unchanged pairs are not touched."""

    @abstractmethod
    async def list(self, query: AssignmentQuery, page: PageRequest) -> Page[AssignmentView]: ...

    @abstractmethod
    async def get(self, assignment_id: int) -> AssignmentView | None: ...

    @abstractmethod
    async def history(self, query: AssignmentQuery, page: PageRequest) -> Page[HistoryView]: ...

    @abstractmethod
    async def insert_manual(self, *, account_id: int, classification_id: int, instance_id: int, db_type: DbEngine,
                            note: str | None, actor_id: int | None, actor_name: str | None,
                            now: datetime) -> AssignmentView:
        """Raises AlreadyExistsError when the account already has a manual assignment to the classification."""

    @abstractmethod
    async def delete_manual(self, assignment_id: int, *, now: datetime) -> None:
        """Delete the row and close its history stretch."""

    @abstractmethod
    async def current_counts(self, engines: frozenset[DbEngine],
                             instance_ids: frozenset[int]) -> dict[int, dict[str, int]]:
        """Current assignment counts per classification and db_type (distinct accounts)."""

    @abstractmethod
    async def rule_hits(self) -> dict[int, int]:
        """Accounts whose current auto assignment credits each rule (every matching rule counts)."""

    @abstractmethod
    async def error_counts(self) -> dict[int, int]:
        """Error rows per rule id."""


class DeactivatedAccountAssignments(Protocol):
    """The one classification write an accounts sync makes: closing the assignments of accounts it deactivated
    (accounts.md §4 step 3, §5.3; classification.md §9), in the sync's own transaction."""

    @abstractmethod
    async def close_auto(self, account_ids: Sequence[int], *, at: datetime) -> int:
        """Delete the auto assignments of the accounts and close their history stretches at `at`; manual
        assignments stay (auto processing never touches them), and an account that lost its primary auto
        assignment gets its best manual one (§9 step 7 order) as primary. Returns the number of auto rows closed;
        no statement is sent for an empty `account_ids`. Nothing is committed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LastSession:
    session_id: str
    finished_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Stretch:
    """One assignment history stretch as the trend reads it (`valid_to` None = still open)."""

    account_id: int
    classification_id: int
    valid_from: datetime
    valid_to: datetime | None
    rule_ids: tuple[int, ...]


class ClassificationStatsReader(Protocol):
    """Read side of the statistics routes (api.md §3.9), in the caller's unit of work."""

    @abstractmethod
    async def last_session(self) -> LastSession | None:
        """The most recently finished `classification` session (any scope, any terminal status)."""

    @abstractmethod
    async def unclassified_count(self, engines: frozenset[DbEngine], instance_ids: frozenset[int]) -> int:
        """Active accounts of active, non-deleted instances (filtered) without any assignment."""

    @abstractmethod
    async def engines_with_facts(self, engines: frozenset[DbEngine], instance_ids: frozenset[int]
                                 ) -> frozenset[DbEngine]:
        """Engines having at least one active account with a current state version on an active instance."""

    @abstractmethod
    async def rule_names(self, rule_ids: Sequence[int]) -> dict[int, str]: ...

    @abstractmethod
    async def rule_hits(self, instance_ids: frozenset[int]) -> dict[int, int]:
        """Accounts (on the instances; all when empty) whose current auto assignment credits each rule."""

    @abstractmethod
    async def error_counts(self, instance_ids: frozenset[int]) -> dict[int, int]:
        """Error rows per rule id (on the instances; all when empty)."""

    @abstractmethod
    async def stretches(self, classification_ids: frozenset[int], start: datetime, end: datetime
                        ) -> list[Stretch]:
        """History stretches of the classifications (all when empty) overlapping [start, end)."""

    @abstractmethod
    async def tracking_start(self) -> datetime | None:
        """The earliest `valid_from` of assignment history (None: nothing was ever assigned)."""


class PendingRuns(Protocol):
    """The durable debounce of the fleet run requested by rule and classification writes (classification.md §9):
    one pending request at most, shared by every process through the metadata store, in the caller's transaction."""

    @abstractmethod
    async def request(self, due_at: datetime) -> None:
        """Record a pending run due at `due_at` unless one is already pending (the earlier due time wins)."""

    @abstractmethod
    async def postpone(self, due_at: datetime) -> None:
        """Set the pending run's due time to `due_at` (creating it when absent)."""

    @abstractmethod
    async def claim_due(self, now: datetime) -> bool:
        """Remove the pending run if it is due at `now`; True for exactly one claimant."""
