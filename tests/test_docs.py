"""Documentation examples run: recorded command output is current, Python snippets work."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# ```python blocks run; ```python notest marks one that needs outside context (a Spark notebook)
PY_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_recorded_command_output_is_current():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs_output.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _snippets():
    for doc in DOCS:
        for i, m in enumerate(PY_BLOCK.finditer(doc.read_text(encoding="utf-8"))):
            yield pytest.param(m.group(1), id=f"{doc.name}-{i}")


@pytest.mark.parametrize("code", list(_snippets()))
def test_python_snippet_runs_and_prints_what_it_says(code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<doc>", "exec"), {})
    printed = out.getvalue().splitlines()
    expected = [
        line.split("#", 1)[1].split(":")[0].split()[0]
        for line in code.splitlines()
        if line.lstrip().startswith("print(") and "#" in line
    ]
    assert printed[: len(expected)] == expected


def test_every_cli_command_has_help():
    from typer.main import get_command

    from b12dx.cli import app

    group = get_command(app)
    commands = getattr(group, "commands", {})
    assert {"assess", "explain", "kb", "demo"} <= set(commands)
    for name, cmd in commands.items():
        assert (cmd.help or "").strip(), f"{name} has no help"
