"""`whalefall rules check` lists every problem with its path and exits non-zero on errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from whalefall.entrypoints.cli.main import app

X17 = ('{"version":4.0,"expr":{"op":"or","args":[{"op":"OR","args":[]},{"fn":"has_privilege","args":{"name":"DROP",'
       '"scope":"databse","databse":"inventory"}},{"op":"NOT","args":[{"fn":"is_superuser"},{"fn":"has_role",'
       '"args":{"name":" "}}]}]}}')


def test_rules_check_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "x17.json"
    bad.write_text(X17)
    result = CliRunner().invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 6
    for path in ("$.version", "$.expr.args[0].args", "$.expr.args[1].args.scope", "$.expr.args[1].args.databse",
                 "$.expr.args[2].args", "$.expr.args[2].args[1].args.name"):
        assert path in result.output


def test_rules_check_prints_the_canonical_document(tmp_path: Path) -> None:
    good = tmp_path / "ok.json"
    good.write_text('{"version":4,"expr":{"fn":"has_capability","args":{"name":"can_login"}}}')
    result = CliRunner().invoke(app, ["rules", "check", "--db-type", "postgresql", str(good)])
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[-1])["expr"]["args"]["name"] == "LOGIN"
