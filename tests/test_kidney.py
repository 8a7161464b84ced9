"""Creatinine and eGFR bands, and muscle breakdown with kidney injury.

Decision: docs/decisions.md "Creatinine and eGFR bands; muscle breakdown with kidney injury".
eGFR: the KDIGO 2012 GFR categories (NICE NG203), reported as whole numbers, so "60-89" is [60, 90)
and a non-integer value falls by its value (59.5 is G3a). Creatinine: the harmonised adult
reference interval (men 60-110, women 45-90 umol/L); a value at the upper limit is within it.
A raised creatinine or an eGFR below 60 with any raised CK, dark urine or severe pain after
exertion is an emergency; ordinary cramps with a raised creatinine alone are not.
"""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from case_support import triage_rules as _rules
from lab_support import band_id

KIDNEY_RULES = {"rhabdomyolysis_kidney_injury_ck", "kidney_injury_with_muscle_features"}
CRAMPS = [{"id": "muscle_cramps"}, {"id": "nocturnal_leg_cramps"}, {"id": "relieved_by_stretching"}]


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (120, "g1"),
        (90, "g1"),
        (89.9, "g2"),
        (89, "g2"),
        (60, "g2"),
        (59.5, "g3a"),
        (59, "g3a"),
        (45, "g3a"),
        (44.9, "g3b"),
        (44, "g3b"),
        (30, "g3b"),
        (29, "g4"),
        (15, "g4"),
        (14.9, "g5"),
        (14, "g5"),
        (1, "g5"),
    ],
)
@pytest.mark.parametrize("sex", ["female", "male"])
def test_egfr_bands_are_the_kdigo_categories(
    kb: KnowledgeBase, value: float, band: str, sex: str
) -> None:
    assert band_id(kb, "egfr", value, "mL/min/1.73m2", sex) == band


def test_egfr_below_60_is_abnormal_and_g1_g2_are_not(kb: KnowledgeBase) -> None:
    abnormal = {b.id for b in kb.lab_by_id["egfr"].bands if b.abnormal}
    assert abnormal == {"g3a", "g3b", "g4", "g5"}


@pytest.mark.parametrize(
    ("value", "unit", "sex", "band"),
    [
        (110, "µmol/L", "male", "normal_male"),
        (110.4, "µmol/L", "male", "raised_male"),
        (111, "µmol/L", "male", "raised_male"),
        (40, "µmol/L", "male", "normal_male"),
        (90, "µmol/L", "female", "normal_female"),
        (91, "µmol/L", "female", "raised_female"),
        (1.24, "mg/dL", "male", "normal_male"),  # 109.6 umol/L
        (1.25, "mg/dL", "male", "raised_male"),  # 110.5 umol/L
        (1.0, "mg/dL", "female", "normal_female"),  # 88.4 umol/L
        (1.03, "mg/dL", "female", "raised_female"),  # 91.1 umol/L
        # KDIGO 2012 AKI stage 3: >= 4.0 mg/dL (>= 353.6 umol/L), inclusive
        (353.5, "µmol/L", "male", "raised_male"),
        (353.6, "µmol/L", "male", "severe_male"),
        (586, "µmol/L", "male", "severe_male"),
        (353.5, "µmol/L", "female", "raised_female"),
        (353.6, "µmol/L", "female", "severe_female"),
        (3.99, "mg/dL", "male", "raised_male"),  # 352.7 umol/L
        (4.0, "mg/dL", "male", "severe_male"),  # 353.6 umol/L
        (4.0, "mg/dl", "female", "severe_female"),
        (3.99, "mg/dl", "female", "raised_female"),
    ],
)
def test_creatinine_bands_by_sex(
    kb: KnowledgeBase, value: float, unit: str, sex: str, band: str
) -> None:
    for pregnant in (False, True) if sex == "female" else (False,):
        assert band_id(kb, "creatinine", value, unit, sex, pregnant) == band


def test_raised_creatinine_sets_its_finding(kb: KnowledgeBase) -> None:
    for b in kb.lab_by_id["creatinine"].bands:
        raised = b.id.startswith(("raised", "severe"))
        assert (b.finding == "lab_creatinine_raised") == raised


def _case(
    *extra: str, sex: str = "male", labs: list[dict[str, Any]], age: int = 45
) -> dict[str, Any]:
    return {
        "age": age,
        "sex": sex,
        "evidence": CRAMPS + [{"id": e} for e in extra],
        "labs": labs,
    }


CREAT_HIGH = {"test": "creatinine", "value": 160, "unit": "µmol/L"}
CREAT_OK = {"test": "creatinine", "value": 80, "unit": "µmol/L"}
EGFR_LOW = {"test": "egfr", "value": 48, "unit": "mL/min/1.73m2"}
EGFR_60 = {"test": "egfr", "value": 60, "unit": "mL/min/1.73m2"}
CK_MILD = {"test": "ck", "value": 600, "unit": "U/L"}
CK_OK = {"test": "ck", "value": 150, "unit": "U/L"}


@pytest.mark.parametrize(
    ("extra", "labs", "rule"),
    [
        ((), [CREAT_HIGH, CK_MILD], "rhabdomyolysis_kidney_injury_ck"),
        ((), [EGFR_LOW, CK_MILD], "rhabdomyolysis_kidney_injury_ck"),
        ((), [CREAT_HIGH, {"test": "ck", "value": 5000, "unit": "U/L"}], None),
        (("dark_urine",), [CREAT_HIGH], "kidney_injury_with_muscle_features"),
        (("severe_pain_after_exertion",), [EGFR_LOW], "kidney_injury_with_muscle_features"),
        (("chronic_kidney_disease",), [CREAT_HIGH, CK_MILD], "rhabdomyolysis_kidney_injury_ck"),
    ],
)
def test_kidney_injury_with_muscle_breakdown_is_an_emergency(
    extra: tuple[str, ...], labs: list[dict[str, Any]], rule: str | None
) -> None:
    a = assess(_case(*extra, labs=labs))
    assert a.triage.level in ("emergency", "emergency_ambulance")
    assert ("rhabdomyolysis_kidney_injury_ck" if rule is None else rule) in _rules(a)


def test_reason_and_action_are_plain_language(kb: KnowledgeBase) -> None:
    flags = {f.id: f for f in kb.triage.red_flags}
    for rid in KIDNEY_RULES:
        f = flags[rid]
        assert f.level == "emergency"
        assert "muscle breakdown" in f.reason and "kidney" in f.reason
        assert "today" in f.action


@pytest.mark.parametrize(
    ("labs", "sex"),
    [
        ([CREAT_HIGH], "male"),
        ([{"test": "creatinine", "value": 95, "unit": "µmol/L"}], "female"),
        ([EGFR_LOW], "male"),
        ([CREAT_HIGH, EGFR_LOW, CK_OK], "male"),
        ([CREAT_OK, CK_MILD], "male"),
        ([EGFR_60, CK_MILD], "female"),
    ],
)
def test_ordinary_cramps_with_one_kidney_or_ck_result_are_not_an_emergency(
    labs: list[dict[str, Any]], sex: str
) -> None:
    a = assess(_case(sex=sex, labs=labs))
    assert a.triage.level not in ("emergency", "emergency_ambulance")
    assert not (KIDNEY_RULES & _rules(a))


def test_assess_shows_the_band_text() -> None:
    a = assess(_case(labs=[CREAT_HIGH, EGFR_LOW]))
    by_test = {lab.test: lab for lab in a.labs}
    assert by_test["creatinine"].band == "raised_male"
    assert by_test["creatinine"].abnormal
    assert "raised" in by_test["creatinine"].text
    assert by_test["egfr"].band == "g3a"
    assert "G3a" in by_test["egfr"].text


def _row(sex: str, evidence: dict[str, bool], labs: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": "r", "age": 45.0, "sex": sex, "pregnant": False}
    row.update({e: True for e in ("muscle_cramps", "nocturnal_leg_cramps")})
    row.update(evidence)
    for t, v in labs.items():
        row[t] = v
    return row


def test_screening_kernel_triages_the_kidney_rules_like_assess(kb: KnowledgeBase) -> None:
    pytest.importorskip("pyarrow", reason="the kernel comparison needs the 'screen' extra")
    from b12dx.screen.rules import load_rules
    from test_screen_kernel import check_rows

    rows = [
        _row("male", {}, {"creatinine": 160.0, "ck": 600.0}),
        _row("female", {}, {"creatinine": 91.0, "ck": 201.0}),
        _row("female", {}, {"creatinine": 90.0, "ck": 201.0}),
        _row("male", {}, {"egfr": 59.5, "ck": 321.0}),
        _row("male", {}, {"egfr": 60.0, "ck": 321.0}),
        _row("male", {"dark_urine": True}, {"creatinine": 111.0}),
        _row("male", {"severe_pain_after_exertion": True}, {"egfr": 14.0}),
        _row("male", {}, {"creatinine": 160.0}),
        _row("female", {"chronic_kidney_disease": True}, {"egfr": 40.0, "ck": 250.0}),
        _row("male", {"muscle_weakness": True}, {"creatinine": 353.6}),
        _row("male", {"muscle_weakness": True}, {"creatinine": 353.5}),
        _row(
            "female",
            {"muscle_weakness": True, "chronic_kidney_disease": True},
            {"creatinine": 586.0},
        ),
        _row("female", {}, {"creatinine": 586.0}),
    ]
    check_rows(rows, kb, load_rules(kb))


def _obs(oid: str, loinc: str, value: float, unit: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": "2026-09-30",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": code,
        },
    }


@pytest.mark.parametrize("egfr_loinc", ["62238-1", "98979-8", "33914-3", "48642-3", "48643-1"])
def test_fhir_creatinine_and_egfr_codes_are_read_and_banded(
    kb: KnowledgeBase, egfr_loinc: str
) -> None:
    import datetime as dt

    from b12dx.fhir import case_from_fhir

    data = [
        {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1980-01-01"},
        _obs("cr", "2160-0", 1.6, "mg/dL", "mg/dL"),
        _obs("gfr", egfr_loinc, 50, "mL/min/1.73m2", "mL/min/{1.73_m2}"),
        _obs("ck", "2157-6", 700, "U/L", "U/L"),
    ]
    imported = case_from_fhir(data, kb=kb, as_of=dt.date(2026, 10, 1))
    assert {lab.test for lab in imported.case.labs} == {"creatinine", "egfr", "ck"}
    a = assess(imported.case, kb=kb)
    bands = {lab.test: lab.band for lab in a.labs}
    assert bands["creatinine"] == "raised_male"  # 141 umol/L
    assert bands["egfr"] == "g3a"
    assert "rhabdomyolysis_kidney_injury_ck" in _rules(a)


# --- creatinine >= 353.6 umol/L (4.0 mg/dL; KDIGO AKI stage 3 level) with muscle symptoms ---

CREAT_SEVERE = {"test": "creatinine", "value": 586, "unit": "µmol/L"}
SEVERE_RULE = "creatinine_severe_muscle_symptoms"
SEVERE_CKD_RULE = "creatinine_severe_known_ckd_muscle_symptoms"


def _muscle_case(*evidence: str, labs: list[dict[str, Any]], sex: str = "male") -> dict[str, Any]:
    return {"age": 74, "sex": sex, "evidence": [{"id": e} for e in evidence], "labs": labs}


@pytest.mark.parametrize(
    "symptom",
    ["muscle_weakness", "proximal_muscle_aching", "widespread_muscle_symptoms", "muscle_cramps"],
)
@pytest.mark.parametrize("sex", ["male", "female"])
def test_severe_creatinine_with_muscle_symptoms_is_an_emergency(symptom: str, sex: str) -> None:
    a = assess(_muscle_case(symptom, labs=[CREAT_SEVERE], sex=sex))
    assert SEVERE_RULE in _rules(a)
    assert a.triage.level in ("emergency", "emergency_ambulance")


def test_the_held_out_statin_amiodarone_pattern_is_an_emergency() -> None:
    a = assess(
        {
            "age": 74,
            "sex": "male",
            "evidence": [{"id": e} for e in ("widespread_muscle_symptoms", "muscle_weakness")],
            "medications": [{"name": "simvastatin 80 mg"}, {"name": "amiodarone"}],
            "labs": [CREAT_SEVERE],
        }
    )
    assert a.triage.level == "emergency"
    assert SEVERE_RULE in _rules(a)


def test_severe_creatinine_with_known_ckd_is_a_same_day_review_not_an_emergency() -> None:
    a = assess(_muscle_case("chronic_kidney_disease", "muscle_weakness", labs=[CREAT_SEVERE]))
    assert SEVERE_CKD_RULE in _rules(a) and SEVERE_RULE not in _rules(a)
    assert a.triage.level == "consultation_24"


@pytest.mark.parametrize(
    ("evidence", "labs"),
    [
        ((), [CREAT_SEVERE]),  # no muscle symptom
        (("chronic_kidney_disease",), [CREAT_SEVERE]),
        (("muscle_weakness",), [{"test": "creatinine", "value": 353.5, "unit": "µmol/L"}]),
        (("muscle_cramps",), [{"test": "creatinine", "value": 3.99, "unit": "mg/dL"}]),
    ],
)
def test_severe_creatinine_rules_do_not_fire(
    evidence: tuple[str, ...], labs: list[dict[str, Any]]
) -> None:
    rules = _rules(assess(_muscle_case(*evidence, labs=labs)))
    assert not ({SEVERE_RULE, SEVERE_CKD_RULE} & rules)


def test_severe_bands_keep_the_raised_finding_so_posteriors_are_unchanged() -> None:
    def posteriors(value: float) -> dict[str, float]:
        lab = {"test": "creatinine", "value": value, "unit": "µmol/L"}
        a = assess(_muscle_case("muscle_weakness", labs=[lab]))
        return {c.id: c.probability for c in a.differential}

    assert posteriors(200) == posteriors(586)
