"""The bundled examples give the results their EXPECTED.md says a careful clinician expects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from b12dx import assess

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROW = re.compile(
    r"^\| `(?P<file>[^`]+\.json)` \|[^|]*\| `(?P<cause>[a-z0-9_]+)` \| `(?P<level>[a-z0-9_]+)` \|",
    re.M,
)


def expectations() -> list[tuple[str, str, str]]:
    text = (EXAMPLES / "EXPECTED.md").read_text(encoding="utf-8")
    return [(m["file"], m["cause"], m["level"]) for m in ROW.finditer(text)]


def test_every_example_has_an_expectation():
    listed = {f for f, _, _ in expectations()}
    assert listed == {p.name for p in EXAMPLES.glob("*.json")}
    assert len(listed) >= 12


@pytest.mark.parametrize(("file", "cause", "level"), expectations())
def test_example_result(file, cause, level):
    a = assess(json.loads((EXAMPLES / file).read_text(encoding="utf-8")))
    assert a.differential[0].id == cause
    assert a.triage.level == level
