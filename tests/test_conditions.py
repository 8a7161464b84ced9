"""``holds`` (compiled once per condition) agrees with the conditions' plain meaning, for every
condition in the knowledge base, on every bundled example and vignette."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from b12dx.assessment import assess_with_context
from b12dx.context import Context, holds
from b12dx.kb import Condition, load_kb

ROOT = Path(__file__).resolve().parents[1]


def reference(cond: Condition, ctx: Context) -> bool:
    """Every non-empty part must hold (written out, independently of ``holds``)."""
    parts = []
    if cond.all_of:
        parts.append(all(e in ctx.present for e in cond.all_of))
    if cond.any_of:
        parts.append(any(e in ctx.present for e in cond.any_of))
    if cond.none_of:
        parts.append(not any(e in ctx.present for e in cond.none_of))
    if cond.tags_any:
        parts.append(any(t in ctx.tags for t in cond.tags_any))
    if cond.tags_all:
        parts.append(all(t in ctx.tags for t in cond.tags_all))
    if cond.labs_any:
        parts.append(any(ctx.band(lc.test) in lc.bands for lc in cond.labs_any))
    if cond.labs_all:
        parts.append(all(ctx.band(lc.test) in lc.bands for lc in cond.labs_all))
    if cond.labs_missing:
        parts.append(not any(ctx.has_lab(t) for t in cond.labs_missing))
    if cond.labs_present:
        parts.append(all(ctx.has_lab(t) for t in cond.labs_present))
    if cond.causes_any:
        parts.append(
            any(ctx.probability(c.cause) >= c.min_probability.value for c in cond.causes_any)
        )
    if cond.top_cause_in:
        parts.append(ctx.top_cause in cond.top_cause_in)
    if cond.pregnant is not None:
        parts.append(ctx.case.pregnant == cond.pregnant)
    if cond.age_at_least is not None:
        parts.append(ctx.case.age >= cond.age_at_least.value)
    return all(parts)


def _conditions(node: object) -> list[Condition]:
    """Every Condition anywhere in the KB model tree."""
    if isinstance(node, Condition):
        return [node]
    if isinstance(node, list | tuple):
        return [c for item in node for c in _conditions(item)]
    if isinstance(node, BaseModel):
        return [c for name in type(node).model_fields for c in _conditions(getattr(node, name))]
    return []


def _cases() -> list[dict[str, object]]:
    out = [json.loads(p.read_text()) for p in sorted((ROOT / "examples").glob("*.json"))]
    for p in sorted((ROOT / "tests" / "cases").glob("*.yaml")):
        out.append(yaml.safe_load(p.read_text())["case"])
    return out


@pytest.fixture(scope="module")
def contexts() -> list[Context]:
    kb = load_kb()
    return [assess_with_context(case, kb=kb)[1] for case in _cases()]


def test_holds_matches_the_plain_reading_everywhere(contexts: list[Context]) -> None:
    conditions = _conditions(load_kb())
    assert len(conditions) > 50  # red flags, triage, plan and comparison rules
    fired = 0
    for ctx in contexts:
        for cond in conditions:
            got = holds(cond, ctx)
            assert got == reference(cond, ctx), (ctx.case.id, cond)
            fired += got
    assert fired > len(contexts)  # not vacuous: conditions do hold
