"""A CK of 15,000 U/L or more is an emergency on its own (the risk of acute kidney injury is no
longer low; KB 2026.11.8, after held-out batch 4); below it, the CK rules keep their levels."""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from lab_support import band_id


@pytest.mark.parametrize(
    ("value", "unit", "sex", "band"),
    [
        (3199, "U/L", "male", "very_high_male"),
        (3200, "U/L", "male", "extreme_male"),
        (14999, "U/L", "male", "extreme_male"),
        (15000, "U/L", "male", "massive_male"),
        (1999, "U/L", "female", "very_high_female"),
        (2000, "U/L", "female", "extreme_female"),
        (14999, "U/L", "female", "extreme_female"),
        (15000, "U/L", "female", "massive_female"),
        (17439, "U/L", "female", "massive_female"),
        (250, "µkat/L", "male", "massive_male"),  # 15,000 U/L
    ],
)
def test_ck_bands_at_every_boundary(
    kb: KnowledgeBase, value: float, unit: str, sex: str, band: str
) -> None:
    assert band_id(kb, "ck", value, unit, sex) == band


def test_massive_and_extreme_bands_set_the_same_finding(kb: KnowledgeBase) -> None:
    bands = {b.id: b for b in kb.lab_by_id["ck"].bands}
    for sex in ("male", "female"):
        assert bands[f"massive_{sex}"].finding == bands[f"extreme_{sex}"].finding


def _assess(ck: float, *evidence: str, sex: str = "female") -> Any:
    return assess(
        {
            "age": 67,
            "sex": sex,
            "evidence": [{"id": e} for e in evidence],
            "labs": [{"test": "ck", "value": ck, "unit": "U/L"}],
        }
    )


@pytest.mark.parametrize("sex", ["female", "male"])
def test_ck_of_15000_is_an_emergency_without_other_features(sex: str) -> None:
    a = _assess(15000, "muscle_weakness", sex=sex)
    assert a.triage.level == "emergency"
    assert "rhabdomyolysis_ck_massive" in {r.rule for r in a.triage.reasons}


def test_below_15000_weakness_alone_keeps_review_within_24_hours() -> None:
    a = _assess(14999, "muscle_weakness")
    assert a.triage.level == "consultation_24"
    assert "rhabdomyolysis_ck_massive" not in {r.rule for r in a.triage.reasons}
