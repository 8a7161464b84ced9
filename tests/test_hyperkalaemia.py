"""Hyperkalaemia severity (UK Kidney Association classes, as summarised in the KB's sources):
above the harmonised limit (5.3) a prompt repeat; 6.0-6.4 moderate, an ECG and review within
24 hours; 6.5 or more severe, an emergency, and with weakness or palpitations an ambulance.
Before KB 2026.11.8 every value above 5.3 (7.6 included) got the same prompt repeat."""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from lab_support import band_id

CRAMPS = [{"id": "muscle_cramps"}, {"id": "nocturnal_leg_cramps"}]


@pytest.mark.parametrize(
    ("value", "unit", "band"),
    [
        (5.3, "mmol/L", "normal"),
        (5.31, "mmol/L", "high"),
        (5.99, "mmol/L", "high"),
        (6.0, "mmol/L", "moderate_high"),
        (6.49, "mmol/L", "moderate_high"),
        (6.5, "mmol/L", "severe_high"),
        (7.62, "mmol/L", "severe_high"),
        (6.5, "mEq/L", "severe_high"),
    ],
)
def test_potassium_high_bands_at_every_boundary(
    kb: KnowledgeBase, value: float, unit: str, band: str
) -> None:
    assert band_id(kb, "potassium", value, unit, "male") == band


def test_every_high_band_sets_the_hyperkalaemia_finding(kb: KnowledgeBase) -> None:
    bands = {b.id: b for b in kb.lab_by_id["potassium"].bands}
    for bid in ("high", "moderate_high", "severe_high"):
        assert bands[bid].finding == "lab_potassium_high" and bands[bid].abnormal


def _assess(k: float, *extra: str) -> Any:
    case = {
        "age": 60,
        "sex": "female",
        "evidence": CRAMPS + [{"id": e} for e in extra],
        "labs": [{"test": "potassium", "value": k, "unit": "mmol/L"}],
    }
    return assess(case)


@pytest.mark.parametrize(
    ("k", "extra", "level", "rule"),
    [
        (5.6, (), "consultation_24", "hyperkalaemia"),
        (6.2, (), "consultation_24", "moderate_hyperkalaemia"),
        (6.5, (), "emergency", "severe_hyperkalaemia"),
        (7.62, (), "emergency", "severe_hyperkalaemia"),
        (6.8, ("muscle_weakness",), "emergency_ambulance", None),
        (6.8, ("palpitations",), "emergency_ambulance", None),
        (6.2, ("muscle_weakness",), "consultation_24", "moderate_hyperkalaemia"),
    ],
)
def test_triage_follows_the_severity_class(
    k: float, extra: tuple[str, ...], level: str, rule: str | None
) -> None:
    a = _assess(k, *extra)
    assert a.triage.level == level
    rules = {r.rule for r in a.triage.reasons}
    assert (rule or "severe_hyperkalaemia_with_weakness_or_palpitations") in rules
