"""Rule routes (api.md §3.9): CRUD, revisions, explain, validate and dry-run; and the privilege catalog the rule
editor uses (§3.8, path `/accounts/privilege-catalog`, its own controller so it never collides with `/accounts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.classification.dry_run import DryRunInput, DryRunRule
from whalefall.application.classification.explain_rule import ExplainInput, ExplainRule
from whalefall.application.classification.rules import (
    CreateRule,
    CreateRuleInput,
    DeleteRule,
    GetRule,
    ListRuleRevisions,
    ListRules,
    UpdateRule,
    UpdateRuleInput,
    ValidateRule,
)
from whalefall.application.ports.classification import RuleQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import catalog_for
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.classification import (
    DeletedOut,
    DraftIn,
    DryRunIn,
    DryRunOut,
    ExplainDraftIn,
    ExplanationOut,
    RuleCreate,
    RuleOut,
    RulePatch,
    RuleRevisionOut,
    ValidateOut,
    catalog_out,
)


class RuleController(Controller):
    path = "/rules"
    tags = ["rules"]

    @get("/", opt=requires(Permission.CLASSIFICATIONS_READ), summary="List rules", description=ListRules.__doc__)
    async def list_rules(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListRules],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        classification_id: Annotated[list[int] | None, QueryParameter(name="classification_id")] = None,
        db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
        is_active: Annotated[bool | None, QueryParameter(name="is_active")] = None,
        include_deleted: Annotated[bool, QueryParameter(name="include_deleted")] = False,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
    ) -> Response[Envelope[PageOut[RuleOut]]]:
        paging = page_request(page, limit, sort, allowed=("name", "updated_at"), default="name")
        query = RuleQuery(classification_ids=frozenset(classification_id or ()), db_types=frozenset(db_type or ()),
                          is_active=is_active, include_deleted=include_deleted, q=q)
        return ok(request, page_out(await use_case.execute(actor, query, paging), RuleOut.of))

    @post("/", opt=requires(Permission.RULES_WRITE), summary="Create a rule", description=CreateRule.__doc__)
    async def create_rule(self, request: Request[Any, Any, Any], data: JSONBody[RuleCreate],
                          actor: FromDishka[Actor], use_case: FromDishka[CreateRule]) -> Response[Envelope[RuleOut]]:
        created = await use_case.execute(CreateRuleInput(
            actor=actor, name=data.name, classification_id=data.classification_id, db_type=data.db_type,
            expression=data.expression, description=data.description, is_active=data.is_active))
        return ok(request, RuleOut.of(created), message="Rule created", status_code=201,
                  location=f"/api/v1/rules/{created.id}")

    @post("/actions/validate", opt=requires(Permission.CLASSIFICATIONS_READ), status_code=200,
          summary="Check a draft (200 either way)", description=ValidateRule.__doc__)
    async def validate(self, request: Request[Any, Any, Any], data: JSONBody[DraftIn], actor: FromDishka[Actor],
                       use_case: FromDishka[ValidateRule]) -> Response[Envelope[ValidateOut]]:
        return ok(request, ValidateOut.of(await use_case.execute(actor, data.db_type, data.expression)))

    @post("/actions/explain", opt=requires(Permission.CLASSIFICATIONS_READ), status_code=200,
          summary="Explain a draft for one account", description=ExplainRule.__doc__)
    async def explain_draft(self, request: Request[Any, Any, Any], data: JSONBody[ExplainDraftIn],
                            actor: FromDishka[Actor], use_case: FromDishka[ExplainRule]
                            ) -> Response[Envelope[ExplanationOut]]:
        result = await use_case.execute(ExplainInput(actor=actor, account_id=data.account_id, db_type=data.db_type,
                                                     expression=data.expression, at=data.at))
        return ok(request, ExplanationOut.of(result))

    @post("/actions/dry-run", opt=requires(Permission.CLASSIFICATIONS_READ), status_code=200,
          summary="Evaluate a draft now or on the ledger at an instant", description=DryRunRule.__doc__)
    async def dry_run(self, request: Request[Any, Any, Any], data: JSONBody[DryRunIn], actor: FromDishka[Actor],
                      use_case: FromDishka[DryRunRule]) -> Response[Envelope[DryRunOut]]:
        result = await use_case.execute(DryRunInput(
            actor=actor, db_type=data.draft.db_type, expression=data.draft.expression,
            compare_with_rule_id=data.compare_with_rule_id, at=data.at,
            instance_ids=frozenset(data.instance_ids) if data.instance_ids is not None else None,
            sample_limit=data.sample_limit))
        return ok(request, DryRunOut.of(result, data.sample_limit))

    @get("/{rule_id:int}", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Rule detail")
    async def get_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int], actor: FromDishka[Actor],
                       use_case: FromDishka[GetRule]) -> Response[Envelope[RuleOut]]:
        return ok(request, RuleOut.of(await use_case.execute(actor, rule_id)))

    @patch("/{rule_id:int}", opt=requires(Permission.RULES_WRITE), summary="Update a rule",
           description=UpdateRule.__doc__)
    async def update_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int], data: JSONBody[RulePatch],
                          actor: FromDishka[Actor], use_case: FromDishka[UpdateRule]) -> Response[Envelope[RuleOut]]:
        updated = await use_case.execute(UpdateRuleInput(actor=actor, rule_id=rule_id, changes=data.changes(),
                                                         revision=data.revision))
        return ok(request, RuleOut.of(updated), message="Rule updated")

    @delete("/{rule_id:int}", opt=requires(Permission.RULES_WRITE), status_code=200, summary="Soft-delete a rule",
            description=DeleteRule.__doc__)
    async def delete_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int], actor: FromDishka[Actor],
                          use_case: FromDishka[DeleteRule],
                          revision: Annotated[int | None, QueryParameter(name="revision")] = None,
                          ) -> Response[Envelope[DeletedOut]]:
        deleted = await use_case.execute(actor, rule_id, revision)
        return ok(request, DeletedOut(id=deleted.id, deleted_at=deleted.deleted_at), message="Rule deleted")

    @get("/{rule_id:int}/revisions", opt=requires(Permission.CLASSIFICATIONS_READ), summary="Expression history")
    async def revisions(self, request: Request[Any, Any, Any], rule_id: FromPath[int], actor: FromDishka[Actor],
                        use_case: FromDishka[ListRuleRevisions], page: PageQuery = 1, limit: LimitQuery = 20,
                        ) -> Response[Envelope[PageOut[RuleRevisionOut]]]:
        paging = page_request(page, limit, None, allowed=("rule_revision",), default="rule_revision")
        return ok(request, page_out(await use_case.execute(actor, rule_id, paging), RuleRevisionOut.of))

    @get("/{rule_id:int}/explain", opt=requires(Permission.CLASSIFICATIONS_READ),
         summary="Evaluated tree for one account", description=ExplainRule.__doc__)
    async def explain(self, request: Request[Any, Any, Any], rule_id: FromPath[int], actor: FromDishka[Actor],
                      use_case: FromDishka[ExplainRule],
                      account_id: Annotated[int, QueryParameter(name="account_id")],
                      at: Annotated[datetime | None, QueryParameter(name="at")] = None,
                      ) -> Response[Envelope[ExplanationOut]]:
        result = await use_case.execute(ExplainInput(actor=actor, account_id=account_id, rule_id=rule_id, at=at))
        return ok(request, ExplanationOut.of(result))


class PrivilegeCatalogController(Controller):
    path = "/accounts/privilege-catalog"
    tags = ["rules"]

    @get("/{db_type:str}", opt=requires(Permission.CLASSIFICATIONS_READ),
         summary="Canonical privilege names the rule editor and validation use")
    async def catalog(self, request: Request[Any, Any, Any], db_type: FromPath[DbEngine],
                      flavor: Annotated[str | None, QueryParameter(name="flavor", min_length=1,
                                                                   max_length=16)] = None,
                      ) -> Response[Envelope[dict[str, object]]]:
        return ok(request, catalog_out(catalog_for(db_type).to_json(flavor=flavor)))
