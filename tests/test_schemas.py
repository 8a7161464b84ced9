"""The committed JSON Schemas are current, and every example validates against them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from b12dx import assess
from b12dx.schemas import schema_texts

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.mark.parametrize("name", sorted(schema_texts()))
def test_committed_schema_is_up_to_date(name):
    committed = (ROOT / "schemas" / name).read_text(encoding="utf-8")
    assert committed == schema_texts()[name], "run `make schemas` and commit the result"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_and_its_assessment_validate(path):
    case = json.loads(path.read_text(encoding="utf-8"))
    schemas = {n: json.loads(t) for n, t in schema_texts().items()}
    jsonschema.validate(case, schemas["case.schema.json"])
    out = json.loads(assess(case).to_json())
    jsonschema.validate(out, schemas["assessment.schema.json"])
