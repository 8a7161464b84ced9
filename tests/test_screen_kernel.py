"""The screening kernel equals ``assess()`` row by row (Hypothesis over random rows)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI a missing extra must fail, not skip
    pytest.importorskip("pyarrow", reason="needs the 'screen' extra")
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b12dx import assess
from b12dx.assessment import build_context
from b12dx.case import normalise, parse_case
from b12dx.errors import B12dxError
from b12dx.kb import KnowledgeBase
from b12dx.screen.kernel import Kernel, row_case
from b12dx.screen.mapping import Mapping
from b12dx.screen.reader import standardize
from b12dx.screen.rules import ScreenRules, flag_fires, load_rules
from b12dx.screen.schema import screen_schema

AS_OF = dt.date(2026, 6, 1)

# Flags over the ids of tests/fixtures/mini_kb (the packaged screen.toml names ids it lacks).
MINI_RULES = """
version = "test"
[report]
focus_cause = "b12_deficiency"
age_bands = [16, 50]
diet = ["vegan_diet"]
urgent_levels = ["emergency", "consultation_24"]

[[flag]]
id = "test_indicated"
label = "B12 test indicated"
text = "Symptom and risk factor, no B12."
sources = ["test"]
evidence = "guideline"
[[flag.when]]
tags_all = ["b12_symptom", "b12_risk"]
labs_missing = ["b12_total"]

[[flag]]
id = "indeterminate"
label = "Indeterminate"
text = "Indeterminate B12, not vegan."
sources = ["test"]
evidence = "guideline"
[[flag.when]]
labs_any = [{ test = "b12_total", bands = ["indeterminate"] }]
none_of = ["vegan_diet"]

[[flag]]
id = "metformin_no_recent_b12"
label = "Metformin"
text = "Metformin for years, no recent B12."
sources = ["test"]
evidence = "estimate"
rationale = "test"
[flag.exposure]
drugs = ["metformin"]
years = { value = 4, sources = ["test"], evidence = "estimate", rationale = "t" }
[flag.no_recent_lab]
tests = ["b12_total"]
days = { value = 365, sources = ["test"], evidence = "estimate", rationale = "t" }

[[flag]]
id = "ppi_no_potassium"
label = "PPI"
text = "Long-term PPI, no potassium."
sources = ["test"]
evidence = "estimate"
rationale = "test"
[flag.exposure]
drugs = ["ppi"]
years = { value = 1, sources = ["test"], evidence = "estimate", rationale = "t" }
[[flag.when]]
labs_missing = ["potassium"]
"""


@pytest.fixture(scope="module", params=["mini", "packaged"])
def setup(request: pytest.FixtureRequest) -> tuple[KnowledgeBase, ScreenRules]:
    if request.param == "mini":
        kb = request.getfixturevalue("mini_kb")
        return kb, load_rules(kb, MINI_RULES)
    kb = request.getfixturevalue("kb")
    return kb, load_rules(kb)


def _edges(kb: KnowledgeBase, test_id: str) -> list[float]:
    test = kb.lab_by_id[test_id]
    out = {test.plausible_low.value, test.plausible_high.value}
    for b in test.bands:
        for e in (b.lower, b.upper):
            if e is not None:
                out.update({e, e * (1 - 1e-9), e * (1 + 1e-9), e * 0.9, e * 1.1})
    return sorted(out)


@st.composite
def screening_rows(draw: st.DrawFn, kb: KnowledgeBase) -> dict[str, Any]:
    kernel_schema = screen_schema(kb)
    row: dict[str, Any] = {}
    row["id"] = draw(st.one_of(st.none(), st.text("abc123", min_size=1, max_size=6)))
    if draw(st.integers(0, 9)) == 0:  # now and then a row that must be rejected
        row["age"] = draw(st.sampled_from([None, 12.0, 15.99, 16.0, 110.0, 110.5, 200.0]))
        row["sex"] = draw(st.sampled_from(["female", "male", "x", None]))
    else:
        row["age"] = draw(
            st.one_of(
                st.sampled_from([16.0, 40.0, 60.0, 75.0]), st.floats(16, 100, allow_nan=False)
            )
        )
        row["sex"] = draw(st.sampled_from(["female", "male", "F", "m", "Female"]))
    row["pregnant"] = draw(st.sampled_from([None, False, False, False, False, True]))
    row["breastfeeding"] = draw(st.sampled_from([None, False, True]))
    # The many yes/no columns come from one seeded generator (cheap to draw); the values that
    # sit on cut-offs (age, lab values, years) are drawn by Hypothesis itself.
    rnd = draw(st.randoms(use_true_random=True))
    density = rnd.choice([0.02, 0.05, 0.1])
    for e in kernel_schema.evidence_ids:
        row[e] = rnd.choice([True, False]) if rnd.random() < density else None
    for d in kernel_schema.drug_ids:
        row[d] = rnd.choice([None, None, True, False]) if rnd.random() < 0.3 else None
        row[f"{d}_years"] = rnd.choice([None, 0.5, 1.0, 4.0, 9.5, rnd.uniform(0, 30)])
    if kernel_schema.drug_ids:
        d = draw(st.sampled_from(kernel_schema.drug_ids))
        row[d] = True
        row[f"{d}_years"] = draw(st.one_of(st.none(), st.floats(0, 30, allow_nan=False)))
    for t in kernel_schema.lab_ids:
        test = kb.lab_by_id[t]
        if rnd.random() > 0.25:
            continue
        value = draw(
            st.one_of(
                st.sampled_from(_edges(kb, t)),
                st.floats(test.plausible_low.value, test.plausible_high.value, allow_nan=False),
            )
        )
        units = [None, *(u.unit for u in test.units)]
        unit = draw(st.sampled_from(units * 6 + ["furlongs"]))
        factor = next((u.value for u in test.units if u.unit == unit), 1.0)
        row[t] = value / factor
        row[f"{t}_unit"] = unit
        row[f"{t}_date"] = rnd.choice(
            [None, AS_OF - dt.timedelta(days=rnd.randint(0, 1200)), AS_OF]
        )
    return row


def _expected(
    row: dict[str, Any], kb: KnowledgeBase, rules: ScreenRules, schema: Any
) -> dict[str, Any] | str:
    case = row_case(row, schema)
    try:
        a = assess(case, kb=kb)
    except B12dxError as exc:
        return str(exc)
    ctx, _ = build_context(normalise(parse_case(case), kb), kb)
    return {
        "p": {c.id: c.probability for c in a.differential},
        "triage_level": a.triage.level,
        "top_cause": a.differential[0].id,
        "next_test": a.next_tests[0].test if a.next_tests else None,
        "flags": {f.id: flag_fires(f, ctx, AS_OF) for f in rules.flags},
    }


def check_rows(rows: list[dict[str, Any]], kb: KnowledgeBase, rules: ScreenRules) -> None:
    kernel = Kernel(kb, rules)
    arrow = kernel.schema.arrow_schema()
    table = pa.Table.from_pylist(rows, schema=arrow)
    batch = standardize(table, kernel.schema, Mapping(), start_row=0)
    result = kernel.run(batch, as_of=AS_OF)
    out = {r["row"]: r for r in result.output.to_pylist()}
    rej = {r["row"]: r for r in result.rejects.to_pylist()}
    assert len(out) + len(rej) == len(rows)
    for i, row in enumerate(rows):
        exp = _expected(row, kb, rules, kernel.schema)
        if isinstance(exp, str):
            assert i in rej, f"row {i} should be rejected: {exp}"
            assert rej[i]["reason"] == exp
            continue
        assert i in out, f"row {i} rejected: {rej.get(i)}"
        got = out[i]
        for c, p in exp["p"].items():
            assert got[f"p_{c}"] == pytest.approx(p, abs=1e-9), c
        assert got["triage_level"] == exp["triage_level"]
        assert got["top_cause"] == exp["top_cause"]
        assert got["next_test"] == exp["next_test"]
        for fid, fired in exp["flags"].items():
            assert got[f"flag_{fid}"] is fired, fid
        assert got["flags"] == ";".join(f for f, v in exp["flags"].items() if v)
        assert got["kb_version"] == kb.version


def test_kernel_equals_assess(setup: tuple[KnowledgeBase, ScreenRules]) -> None:
    kb, rules = setup
    # the packaged KB's assess() is the slow side of the comparison: fewer, larger examples
    examples = 60 if kb.version.startswith("test") else 30

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(screening_rows(kb), min_size=1, max_size=12))
    def inner(rows: list[dict[str, Any]]) -> None:
        check_rows(rows, kb, rules)

    inner()


def test_no_evidence_row_and_empty_chunk(setup: tuple[KnowledgeBase, ScreenRules]) -> None:
    kb, rules = setup
    check_rows([{"age": 50.0, "sex": "female"}, {"age": 70.0, "sex": "male"}], kb, rules)
    kernel = Kernel(kb, rules)
    table = pa.Table.from_pylist([], schema=kernel.schema.arrow_schema())
    result = kernel.run(standardize(table, kernel.schema, Mapping(), start_row=0), as_of=AS_OF)
    assert result.output.num_rows == 0 and result.rejects.num_rows == 0


def test_rejects_carry_the_assess_message(setup: tuple[KnowledgeBase, ScreenRules]) -> None:
    kb, rules = setup
    rows: list[dict[str, Any]] = [
        {"age": 12.0, "sex": "female"},
        {"age": 40.0, "sex": "male", "pregnant": True},
        {"age": 40.0, "sex": "female", "b12_total": 300.0, "b12_total_unit": "furlongs"},
        {"age": None, "sex": "female"},
        {"age": 40.0, "sex": "female"},
    ]
    check_rows(rows, kb, rules)
