"""The README's Python examples run as written (each in a fresh interpreter, against a fresh embedded store)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WHALEFALL_")}
    environ["WHALEFALL_DATA_DIR"] = str(data_dir)
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=environ, check=False)


def test_the_readme_has_the_embedding_examples() -> None:
    assert len(EXAMPLES) == 3


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_a_readme_example_runs(index: int, tmp_path: Path) -> None:
    upgraded = _run([sys.executable, "-m", "whalefall", "db", "upgrade"], tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    script = tmp_path / "example.py"
    script.write_text(EXAMPLES[index], encoding="utf-8")
    result = _run([sys.executable, str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    for line in EXAMPLES[index].splitlines():  # `# -> value` after a print(...) is its expected output
        if line.startswith("print(") and "# -> " in line:
            expected = line.split("# -> ", 1)[1].strip()
            assert expected in result.stdout.splitlines(), (expected, result.stdout)
