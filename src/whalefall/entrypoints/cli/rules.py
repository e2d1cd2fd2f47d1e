"""`whalefall rules check FILE [--db-type ENGINE]` and `whalefall rules explain RULE ACCOUNT [--at T]`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final

import typer

from whalefall.application.classification.explain_rule import ExplainInput, ExplainResult, ExplainRule
from whalefall.application.shared.actor import Actor
from whalefall.domain.classification import to_document, validate_rule
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.catalog import catalog_for
from whalefall.entrypoints.cli.common import app_container, err_console, run

app = typer.Typer(help="Classification rules.", no_args_is_help=True)
ACTOR: Final = Actor.system("cli")
#: Exit code when the rule document has errors.
RULE_INVALID: Final = 6


@app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="A DSL v4 rule document (JSON)", exists=True, dir_okay=False)],
    db_type: Annotated[DbEngine | None, typer.Option("--db-type", help="Engine for catalog warnings")] = None,
) -> None:
    """Validate a rule file: every error and warning with its path; non-zero exit when there is an error."""
    report = validate_rule(file.read_bytes(), engine=db_type,
                           catalog=catalog_for(db_type) if db_type is not None else None)
    for issue in (*report.errors, *report.warnings):
        err_console.print(f"{issue.severity} {issue.code} at {issue.path}: {issue.message}")
    if report.rule is None:
        raise typer.Exit(RULE_INVALID)
    typer.echo(json.dumps(to_document(report.rule), sort_keys=True))


async def _explain(rule_id: int, account_id: int, at: datetime | None) -> ExplainResult:
    async with app_container() as container, container() as scope:
        use_case = await scope.get(ExplainRule)
        return await use_case.execute(ExplainInput(actor=ACTOR, account_id=account_id, rule_id=rule_id, at=at))


@app.command("explain")
def explain_command(
    rule: Annotated[int, typer.Argument(help="Rule id")],
    account: Annotated[int, typer.Argument(help="Account id")],
    at: Annotated[datetime | None, typer.Option("--at", help="Evaluate on the ledger at this instant")] = None,
) -> None:
    """Print the evaluated tree of a stored rule for one account (JSON)."""
    result = run(lambda: _explain(rule, account, at))
    typer.echo(json.dumps({
        "rule_id": result.rule_id, "rule_revision": result.rule_revision, "account_id": result.account_id,
        "at": result.at.isoformat(), "outcome": result.outcome, "matched": result.matched,
        "errors": [{"code": e.code, "path": e.path, "message": e.message} for e in result.errors],
        "tree": result.tree}, indent=2, default=str))
