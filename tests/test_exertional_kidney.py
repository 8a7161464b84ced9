"""Kidney injury after hard exercise when no CK is known.

Decision: docs/decisions.md "Exertional kidney injury without a CK". A creatinine above the
sex-specific upper reference limit (men > 110, women > 90 umol/L; any raised or severe band) or an
eGFR below 60, with recent hard or unusual exercise (`strenuous_exercise_recent`), is an emergency
(`exertional_kidney_injury`) unless chronic kidney disease is known, and a review within 24 hours
with it (`exertional_kidney_injury_known_ckd`). Ordinary exercise cramps with a normal creatinine,
and a raised creatinine with known CKD and no exertion, are not escalated.
"""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from case_support import triage_rules as _rules
from lab_support import band_id

RULE = "exertional_kidney_injury"
CKD_RULE = "exertional_kidney_injury_known_ckd"
EXERCISE_CRAMPS = [
    "muscle_cramps",
    "cramps_after_exercise",
    "localised_to_one_muscle",
    "relieved_by_stretching",
    "strenuous_exercise_recent",
]
URGENT = ("emergency", "emergency_ambulance")


def _case(
    *evidence: str, labs: list[dict[str, Any]], sex: str = "male", age: int = 24
) -> dict[str, Any]:
    return {"age": age, "sex": sex, "evidence": [{"id": e} for e in evidence], "labs": labs}


def _creat(value: float, unit: str = "µmol/L") -> dict[str, Any]:
    return {"test": "creatinine", "value": value, "unit": unit}


# value, unit, sex, band, raised: the band boundaries of tests/test_kidney.py, in both units
BOUNDARIES = [
    (110, "µmol/L", "male", "normal_male", False),
    (110.4, "µmol/L", "male", "raised_male", True),
    (111, "µmol/L", "male", "raised_male", True),
    (1.24, "mg/dL", "male", "normal_male", False),  # 109.6 umol/L
    (1.25, "mg/dL", "male", "raised_male", True),  # 110.5 umol/L
    (2.5, "mg/dL", "male", "raised_male", True),  # 221 umol/L, below the stage-3 level
    (353.5, "µmol/L", "male", "raised_male", True),
    (353.6, "µmol/L", "male", "severe_male", True),
    (3.99, "mg/dL", "male", "raised_male", True),  # 352.7 umol/L
    (4.0, "mg/dL", "male", "severe_male", True),  # 353.6 umol/L
    (90, "µmol/L", "female", "normal_female", False),
    (91, "µmol/L", "female", "raised_female", True),
    (1.0, "mg/dL", "female", "normal_female", False),  # 88.4 umol/L
    (1.03, "mg/dl", "female", "raised_female", True),  # 91.1 umol/L
    (353.6, "µmol/L", "female", "severe_female", True),
    (4.0, "mg/dL", "female", "severe_female", True),
]


@pytest.mark.parametrize(("value", "unit", "sex", "band", "raised"), BOUNDARIES)
def test_exertion_with_a_raised_creatinine_is_an_emergency_at_every_raised_band(
    kb: KnowledgeBase, value: float, unit: str, sex: str, band: str, raised: bool
) -> None:
    assert band_id(kb, "creatinine", value, unit, sex) == band
    a = assess(_case("strenuous_exercise_recent", labs=[_creat(value, unit)], sex=sex), kb=kb)
    assert (RULE in _rules(a)) is raised
    assert CKD_RULE not in _rules(a)
    if raised:
        assert a.triage.level in URGENT
    else:
        assert a.triage.level not in URGENT


@pytest.mark.parametrize(("value", "unit", "sex", "band", "raised"), BOUNDARIES)
def test_with_known_ckd_the_same_result_is_a_review_within_24_hours(
    kb: KnowledgeBase, value: float, unit: str, sex: str, band: str, raised: bool
) -> None:
    evidence = ("strenuous_exercise_recent", "chronic_kidney_disease", "muscle_cramps")
    a = assess(_case(*evidence, labs=[_creat(value, unit)], sex=sex, age=60), kb=kb)
    assert RULE not in _rules(a)
    assert (CKD_RULE in _rules(a)) is raised
    if raised and not band.startswith("severe"):
        assert a.triage.level == "consultation_24"
    assert a.triage.level not in URGENT


@pytest.mark.parametrize(("value", "raised"), [(60, False), (59.5, True), (48, True), (14, True)])
def test_an_egfr_below_60_counts_like_a_raised_creatinine(value: float, raised: bool) -> None:
    egfr = {"test": "egfr", "value": value, "unit": "mL/min/1.73m2"}
    a = assess(_case("strenuous_exercise_recent", "muscle_weakness", labs=[egfr]))
    assert (RULE in _rules(a)) is raised


def test_the_sit_ups_pattern_without_a_ck_is_an_emergency() -> None:
    # tests/cases_seen/rhabdo_sit_ups_kidney_injury_no_ck_19m.yaml: exercise, creatinine 2.5 mg/dL
    a = assess(_case("strenuous_exercise_recent", labs=[_creat(2.5, "mg/dL")], age=19))
    assert a.triage.level == "emergency"
    assert RULE in _rules(a)


@pytest.mark.parametrize("creatinine", [None, 80, 110, 1.2])
def test_ordinary_exercise_cramps_with_a_normal_creatinine_are_not_escalated(
    creatinine: float | None,
) -> None:
    labs = (
        [] if creatinine is None else [_creat(creatinine, "mg/dL" if creatinine < 10 else "µmol/L")]
    )
    a = assess(_case(*EXERCISE_CRAMPS, labs=labs, age=27))
    baseline = assess(_case(*EXERCISE_CRAMPS, labs=[], age=27))
    assert not ({RULE, CKD_RULE} & _rules(a))
    assert a.triage.level == baseline.triage.level == "self_care"
    assert a.triage.level not in (*URGENT, "consultation_24")


@pytest.mark.parametrize("creatinine", [160, 300, 2.5])
@pytest.mark.parametrize("symptom", ["muscle_cramps", "nocturnal_leg_cramps", "muscle_weakness"])
def test_a_raised_creatinine_with_known_ckd_and_no_exertion_is_not_an_emergency(
    creatinine: float, symptom: str
) -> None:
    lab = _creat(creatinine, "mg/dL" if creatinine < 10 else "µmol/L")
    a = assess(_case("chronic_kidney_disease", symptom, labs=[lab], age=68))
    assert not ({RULE, CKD_RULE} & _rules(a))
    assert a.triage.level not in URGENT


def test_a_raised_creatinine_without_exertion_raises_neither_rule() -> None:
    a = assess(_case("muscle_cramps", "nocturnal_leg_cramps", labs=[_creat(160)], age=55))
    assert not ({RULE, CKD_RULE} & _rules(a))
    assert a.triage.level not in URGENT


def test_exertion_reported_absent_does_not_fire() -> None:
    case = _case("muscle_cramps", labs=[_creat(221)])
    case["evidence"].append({"id": "strenuous_exercise_recent", "state": "absent"})
    assert not ({RULE, CKD_RULE} & _rules(assess(case)))


def test_the_raised_creatinine_is_evidence_for_rhabdomyolysis() -> None:
    def p(labs: list[dict[str, Any]]) -> float:
        a = assess(_case("strenuous_exercise_recent", labs=labs, age=19))
        return next(c.probability for c in a.differential if c.id == "rhabdomyolysis")

    assert p([_creat(221)]) > 3 * p([_creat(80)])
