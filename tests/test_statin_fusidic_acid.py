"""Systemic fusidic acid with a statin (MHRA Drug Safety Update, September 2011): a class of its
own (not a CYP3A4 inhibitor); muscle symptoms or a raised CK on both -> review within 24 hours;
nothing changes without a statin; the cream's brand name is not read as the tablets."""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.case import normalise, parse_case
from b12dx.kb import KnowledgeBase, load_kb

RULES = {"statin_with_fusidic_acid_muscle_symptoms", "statin_with_fusidic_acid_raised_ck"}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb()


def _case(meds: list[str], evidence: list[str], labs: list[dict[str, Any]] | None = None) -> Any:
    return {
        "age": 70,
        "sex": "male",
        "evidence": [{"id": e} for e in evidence],
        "medications": [{"name": m} for m in meds],
        "labs": labs or [],
    }


@pytest.mark.parametrize("name", ["fusidic acid", "sodium fusidate", "Fusidic Acid"])
def test_names_map_to_the_class(kb: KnowledgeBase, name: str) -> None:
    case = normalise(parse_case(_case([name], ["muscle_cramps"])), kb)
    assert [m.drug_class for m in case.medications] == ["fusidic_acid_systemic"]


@pytest.mark.parametrize(
    ("meds", "evidence", "labs", "rule"),
    [
        (
            ["atorvastatin", "fusidic acid"],
            ["muscle_weakness"],
            None,
            "statin_with_fusidic_acid_muscle_symptoms",
        ),
        (
            ["simvastatin", "sodium fusidate"],
            ["vomiting_or_diarrhoea"],
            [{"test": "ck", "value": 759, "unit": "U/L"}],
            "statin_with_fusidic_acid_raised_ck",
        ),
    ],
)
def test_both_medicines_with_muscle_symptoms_or_raised_ck_get_review_within_24_hours(
    meds: list[str], evidence: list[str], labs: list[dict[str, Any]] | None, rule: str
) -> None:
    a = assess(_case(meds, evidence, labs))
    assert rule in {r.rule for r in a.triage.reasons}
    assert a.triage.level in ("consultation_24", "emergency", "emergency_ambulance")
    assert any(p.id == "statin_fusidic_acid_check" for p in a.prevention)


@pytest.mark.parametrize(
    ("meds", "evidence"),
    [
        (["fusidic acid"], ["muscle_cramps", "nocturnal_leg_cramps", "relieved_by_stretching"]),
        (["atorvastatin", "fusidic acid"], []),
    ],
)
def test_no_rule_without_a_statin_or_without_muscle_signs(
    meds: list[str], evidence: list[str]
) -> None:
    a = assess(_case(meds, evidence))
    assert not {r.rule for r in a.triage.reasons} & RULES


def test_effect_acts_only_through_the_statin_cause(kb: KnowledgeBase) -> None:
    cls = next(c for c in kb.drug_classes if c.id == "fusidic_acid_systemic")
    assert {e.cause for e in cls.effects} == {"statin_myopathy"}
    cause = next(c for c in kb.causes if c.id == "statin_myopathy")
    assert "statin" in cause.requires_any
