"""Rapidly worsening weakness of many muscles is a 999 call; in one region it stays an emergency.

Decision: docs/decisions.md "Rapidly worsening weakness of many muscles is a 999 call". NHS 111
Wales (Guillain-Barre syndrome): call 999 or go to A&E immediately when someone cannot move their
limbs, or has difficulty breathing or swallowing; b12dx has no breathing or swallowing finding.
"""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase, load_kb
from case_support import triage_rules as _rules

RULE = "rapidly_progressive_widespread_weakness"


def _case(*evidence: str, labs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "age": 66,
        "sex": "male",
        "evidence": [{"id": e} for e in evidence],
        "labs": labs or [],
    }


@pytest.mark.parametrize(
    "extra",
    [(), ("muscle_weakness", "reduced_reflexes"), ("symptoms_both_sides",)],
)
def test_rapid_widespread_weakness_calls_an_ambulance(extra: tuple[str, ...]) -> None:
    a = assess(_case("rapidly_progressive_weakness", "widespread_muscle_symptoms", *extra))
    assert RULE in _rules(a)
    assert a.triage.level == "emergency_ambulance"


def test_without_a_potassium_result_too() -> None:
    """The held-out pattern: flaccid weakness of all four limbs over hours, no potassium value."""
    a = assess(
        _case("rapidly_progressive_weakness", "widespread_muscle_symptoms", "muscle_weakness")
    )
    assert not any(lab.test == "potassium" for lab in a.labs)
    assert a.triage.level == "emergency_ambulance"


@pytest.mark.parametrize(
    "evidence",
    [
        ("rapidly_progressive_weakness",),
        ("rapidly_progressive_weakness", "symptoms_both_sides"),
        ("rapidly_progressive_weakness", "muscle_weakness"),
    ],
)
def test_rapid_weakness_without_widespread_muscles_stays_an_emergency(
    evidence: tuple[str, ...],
) -> None:
    a = assess(_case(*evidence))
    assert RULE not in _rules(a)
    assert a.triage.level == "emergency"


@pytest.mark.parametrize(
    "evidence",
    [
        ("widespread_muscle_symptoms", "muscle_weakness"),
        ("widespread_muscle_symptoms", "muscle_cramps", "nocturnal_leg_cramps"),
        ("muscle_cramps", "nocturnal_leg_cramps", "relieved_by_stretching", "symptoms_both_sides"),
    ],
)
def test_widespread_symptoms_without_rapid_worsening_do_not_call_an_ambulance(
    evidence: tuple[str, ...],
) -> None:
    a = assess(_case(*evidence))
    assert RULE not in _rules(a)
    assert a.triage.level != "emergency_ambulance"


def test_rule_is_sourced_and_says_999() -> None:
    kb: KnowledgeBase = load_kb()
    (flag,) = [f for f in kb.triage.red_flags if f.id == RULE]
    assert flag.level == "emergency_ambulance"
    assert "999" in flag.action
    assert "nhs-111-wales-gbs" in flag.sources
