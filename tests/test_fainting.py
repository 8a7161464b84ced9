"""Fainting (transient loss of consciousness), added after held-out misses.

NICE CG109: everyone who has had a transient loss of consciousness needs an initial assessment, so a
faint is never self-care; its 24-hour red flags that b12dx can express (new breathlessness, age
over 65 without a known prodrome) raise it; a faint with a dangerous electrolyte result is an
emergency. Ordinary night cramps without a faint must keep their triage.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

from b12dx import assess
from b12dx.fhir import case_from_fhir
from b12dx.kb import KnowledgeBase
from b12dx.nlp import parse_text
from case_support import NIGHT_CRAMP

FAINT = "fainting"
AS_OF = dt.date(2026, 10, 1)

FAINT_RULES = {
    "fainting",
    "fainting_over_65",
    "fainting_with_new_breathlessness",
    "fainting_with_dangerous_potassium",
    "fainting_with_electrolyte_disturbance",
}


def _case(
    age: int,
    evidence: dict[str, str],
    labs: dict[str, float] | None = None,
    *,
    sex: str = "male",
) -> dict[str, Any]:
    units = {"potassium": "mmol/L", "sodium": "mmol/L", "magnesium": "mmol/L"}
    units["calcium_adjusted"] = "mmol/L"
    return {
        "schema": "b12dx/case/v1",
        "age": age,
        "sex": sex,
        "evidence": [{"id": k, "state": v} for k, v in evidence.items()],
        "labs": [{"test": t, "value": v, "unit": units[t]} for t, v in (labs or {}).items()],
    }


def _triage(case: dict[str, Any]) -> tuple[str, set[str]]:
    a = assess(case)
    return a.triage.level, {r.rule for r in a.triage.reasons}


# ------------------------------------------------------------------ knowledge base ---
def test_finding_is_a_sourced_red_flag_with_codes_and_links(kb: KnowledgeBase) -> None:
    f = kb.finding_by_id[FAINT]
    assert f.kind == "red_flag" and "red_flag" in f.tags
    assert f.question and "fainted" in f.question and "passed out" in f.question
    assert f.leak.sources and f.leak.rationale
    assert f.codes is not None and f.codes.snomed == "271594007" and f.codes.icd10 == "R55"
    # "collapsed" is ambiguous (CG109: some people collapse without losing consciousness)
    assert not any("collaps" in s.lower() for s in f.synonyms)
    links = {link.cause: link for link in kb.links if link.finding == FAINT}
    assert {"dehydration", "hypokalaemia", "hypomagnesaemia", "hyponatraemia"} <= set(links)
    assert all(link.sources and link.rationale for link in links.values())
    # the benign cramp link (pain-provoked reflex faint) is the weakest
    assert links["idiopathic_nocturnal_cramps"].value < min(
        v.value for c, v in links.items() if c != "idiopathic_nocturnal_cramps"
    )


def test_faint_raises_fluid_and_electrolyte_causes() -> None:
    base = {"muscle_cramps": "present", "nocturnal_leg_cramps": "present"}
    before = {c.id: c.probability for c in assess(_case(60, base)).differential}
    after = {
        c.id: c.probability for c in assess(_case(60, {**base, FAINT: "present"})).differential
    }
    benign = after["idiopathic_nocturnal_cramps"] / before["idiopathic_nocturnal_cramps"]
    for cause in ("dehydration", "hypokalaemia", "hyponatraemia"):
        assert after[cause] / before[cause] > max(benign, 1.0)


# ----------------------------------------------------------------------------- triage ---
@pytest.mark.parametrize(("age", "sex"), [(55, "female"), (69, "male"), (35, "female")])
def test_ordinary_night_cramps_stay_self_care(age: int, sex: str) -> None:
    level, rules = _triage(_case(age, NIGHT_CRAMP, sex=sex))
    assert level == "self_care" and not rules & FAINT_RULES
    # answering "no" to the new question changes nothing
    level_no, rules_no = _triage(_case(age, {**NIGHT_CRAMP, FAINT: "absent"}, sex=sex))
    assert level_no == "self_care" and not rules_no & FAINT_RULES


@pytest.mark.parametrize(
    ("age", "extra", "labs", "level", "rule"),
    [
        # any faint is at least a consultation (CG109 initial assessment), never self-care
        (45, {}, {}, "consultation", "fainting"),
        (64, {}, {}, "consultation", "fainting"),
        # over 65 the prodrome is unknown to b12dx: considered for 24-hour referral
        (65, {}, {}, "consultation_24", "fainting_over_65"),
        (69, {}, {}, "consultation_24", "fainting_over_65"),
        # new breathlessness is a CG109 24-hour red flag
        (
            45,
            {"shortness_of_breath": "present"},
            {},
            "consultation_24",
            "fainting_with_new_breathlessness",
        ),
        # dangerous potassium: a possible arrhythmia has already happened
        (60, {}, {"potassium": 6.2}, "emergency_ambulance", "fainting_with_dangerous_potassium"),
        (60, {}, {"potassium": 7.0}, "emergency_ambulance", "fainting_with_dangerous_potassium"),
        (60, {}, {"potassium": 2.3}, "emergency_ambulance", "fainting_with_dangerous_potassium"),
        # other electrolyte disturbances with a faint: emergency department today
        (60, {}, {"potassium": 5.6}, "emergency", "fainting_with_electrolyte_disturbance"),
        (60, {}, {"potassium": 3.2}, "emergency", "fainting_with_electrolyte_disturbance"),
        (60, {}, {"magnesium": 0.6}, "emergency", "fainting_with_electrolyte_disturbance"),
        (60, {}, {"calcium_adjusted": 2.0}, "emergency", "fainting_with_electrolyte_disturbance"),
        (60, {}, {"sodium": 127}, "emergency", "fainting_with_electrolyte_disturbance"),
        (60, {}, {"sodium": 120}, "emergency", "fainting_with_electrolyte_disturbance"),
    ],
)
def test_faint_triage(
    age: int, extra: dict[str, str], labs: dict[str, float], level: str, rule: str
) -> None:
    got, rules = _triage(_case(age, {**NIGHT_CRAMP, FAINT: "present", **extra}, labs))
    assert got == level
    assert rule in rules


@pytest.mark.parametrize(
    ("labs", "level_without"),
    [
        ({"potassium": 6.2}, "consultation_24"),
        ({"potassium": 5.6}, "consultation_24"),
        ({"sodium": 133}, None),
        ({"potassium": 4.2}, None),
    ],
)
def test_electrolyte_rules_need_the_faint(
    labs: dict[str, float], level_without: str | None
) -> None:
    level, rules = _triage(_case(60, {**NIGHT_CRAMP, FAINT: "absent"}, labs))
    assert not rules & FAINT_RULES
    if level_without is not None:
        assert level == level_without


@pytest.mark.parametrize("labs", [{"sodium": 133}, {"potassium": 4.2}, {"magnesium": 0.8}])
def test_mild_or_normal_results_leave_the_faint_at_consultation(labs: dict[str, float]) -> None:
    level, rules = _triage(_case(45, {**NIGHT_CRAMP, FAINT: "present"}, labs))
    assert level == "consultation"
    assert rules & FAINT_RULES == {"fainting"}


def test_faint_with_a_fit_stays_an_ambulance() -> None:
    level, rules = _triage(_case(45, {FAINT: "present", "seizure": "present"}))
    assert level == "emergency_ambulance" and "seizure_or_slurred_speech" in rules


def test_every_faint_rule_is_sourced(kb: KnowledgeBase) -> None:
    flags = {r.id: r for r in kb.triage.red_flags}
    assert set(flags) >= FAINT_RULES
    for rid in FAINT_RULES:
        r = flags[rid]
        assert r.sources and r.reason and r.action
        assert "nice-cg109" in r.sources
        assert r.evidence == "guideline" or r.rationale


# ------------------------------------------------------------------------ free text ---
def _ids(text: str) -> dict[str, str]:
    return {m.id: m.state for m in parse_text(text).evidence}


@pytest.mark.parametrize(
    "text",
    [
        "I fainted twice last week.",
        "The cramps in his calves at night were so painful that he passed out twice.",
        "I blacked out in the kitchen this morning.",
        "He lost consciousness briefly after the cramp.",
        "Syncopal episode yesterday while standing.",
    ],
)
def test_parser_reads_a_faint(text: str) -> None:
    assert _ids(text).get(FAINT) == "present"


@pytest.mark.parametrize(
    "text",
    [
        "I have never passed out.",
        "I haven't fainted.",
        "No loss of consciousness.",
        "Denies syncope or chest pain.",
    ],
)
def test_parser_reads_a_denied_faint(text: str) -> None:
    assert _ids(text).get(FAINT) == "absent"


@pytest.mark.parametrize(
    "text",
    [
        "I almost passed out.",
        "I felt like I was going to faint.",
        "I nearly fainted when I stood up.",
        "I used to pass out at the sight of a needle.",
        "I fainted ten years ago.",
        "She collapsed on the floor.",
    ],
)
def test_parser_does_not_read_a_near_faint_or_an_old_one(text: str) -> None:
    # left unknown (not present, not absent): the case carries no answer
    assert FAINT not in parse_text(text).final_evidence()


# --------------------------------------------------------------------------- FHIR ---
@pytest.mark.parametrize(
    ("system", "code"),
    [
        ("http://snomed.info/sct", "271594007"),  # Syncope
        ("http://hl7.org/fhir/sid/icd-10", "R55"),  # Syncope and collapse
    ],
)
def test_fhir_condition_codes_map_to_the_finding(kb: KnowledgeBase, system: str, code: str) -> None:
    data = [
        {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1957-01-01"},
        {
            "resourceType": "Condition",
            "id": "faint",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": system, "code": code}]},
        },
    ]
    case = case_from_fhir(data, kb=kb, as_of=AS_OF).case
    assert {(e.id, e.state) for e in case.evidence} == {(FAINT, "present")}


def test_fhir_observation_answered_no_is_absent(kb: KnowledgeBase) -> None:
    data = [
        {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1957-01-01"},
        {
            "resourceType": "Observation",
            "id": "faint",
            "status": "final",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "271594007"}]},
            "valueCodeableConcept": {
                "coding": [{"system": "http://snomed.info/sct", "code": "373067005"}]
            },
        },
    ]
    case = case_from_fhir(data, kb=kb, as_of=AS_OF).case
    assert {(e.id, e.state) for e in case.evidence} == {(FAINT, "absent")}


# ------------------------------------------------------------------ screening kernel ---
def test_screening_kernel_equals_assess_on_the_new_column(kb: KnowledgeBase) -> None:
    if os.environ.get("CI") != "true":  # in CI a missing extra must fail, not skip
        pytest.importorskip("pyarrow", reason="needs the 'screen' extra")
    from b12dx.screen.rules import load_rules
    from test_screen_kernel import check_rows

    cramps = {k: True for k in NIGHT_CRAMP}
    rows: list[dict[str, Any]] = [
        {"age": 55.0, "sex": "female", **cramps, FAINT: False},
        {"age": 55.0, "sex": "female", **cramps, FAINT: True},
        {"age": 69.0, "sex": "male", **cramps, FAINT: True},
        {"age": 45.0, "sex": "male", FAINT: True, "shortness_of_breath": True},
        {"age": 60.0, "sex": "female", FAINT: True, "potassium": 6.2},
        {"age": 60.0, "sex": "female", FAINT: True, "potassium": 3.2},
        {"age": 60.0, "sex": "female", FAINT: True, "sodium": 127.0},
        {"age": 60.0, "sex": "female", FAINT: False, "potassium": 6.2},
    ]
    check_rows(rows, kb, load_rules(kb))
