"""Sudden one-sided leg pain and acute alcohol withdrawal (added after held-out misses).

Triage must escalate the new findings (DVT risk, pregnancy, pulseless or cold leg, delirium) and
must leave ordinary night cramps in one calf exactly where they were. The free-text parser must
tell "a cramp that eases" from "pain that stays", and the screening kernel must agree with
``assess()`` on rows that carry the new columns.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from b12dx.nlp import parse_text
from case_support import NIGHT_CRAMP

LEG = "sudden_leg_pain_one_side"
WITHDRAWAL = "alcohol_withdrawal_signs"
DELIRIUM = "alcohol_withdrawal_delirium"


def _case(
    age: int, sex: str, evidence: dict[str, str], *, pregnant: bool = False
) -> dict[str, Any]:
    return {
        "schema": "b12dx/case/v1",
        "age": age,
        "sex": sex,
        "pregnant": pregnant,
        "evidence": [{"id": k, "state": v} for k, v in evidence.items()],
    }


def _triage(case: dict[str, Any]) -> tuple[str, set[str]]:
    a = assess(case)
    return a.triage.level, {r.rule for r in a.triage.reasons}


# ------------------------------------------------------------------ knowledge base ---
def test_findings_are_red_flags_with_questions_and_links(kb: KnowledgeBase) -> None:
    for fid in (LEG, WITHDRAWAL, DELIRIUM):
        f = kb.finding_by_id[fid]
        assert f.kind == "red_flag" and "red_flag" in f.tags
        assert f.question and f.synonyms
        assert f.leak.sources and f.leak.rationale
        links = [link for link in kb.links if link.finding == fid]
        assert links and all(link.sources and link.rationale for link in links)
    # the question itself separates a cramp that eases from pain that stays
    q = kb.finding_by_id[LEG].question or ""
    assert "cramp" in q and "eases" in q and "still there" in q
    # no lay synonym of the leg finding speaks of a cramp (cramps must not be read as it)
    assert not any("cramp" in s for s in kb.finding_by_id[LEG].synonyms)
    causes = {link.cause for link in kb.links if link.finding == LEG}
    assert {"deep_vein_thrombosis", "acute_limb_ischaemia", "compartment_syndrome"} <= causes


def test_leg_pain_links_favour_the_serious_causes(kb: KnowledgeBase) -> None:
    value = {link.cause: link.value for link in kb.links if link.finding == LEG}
    for benign in ("exercise_associated_cramps", "idiopathic_nocturnal_cramps"):
        assert value[benign] < value["deep_vein_thrombosis"] < value["acute_limb_ischaemia"]


# ------------------------------------------------------------------ triage: leg pain ---
@pytest.mark.parametrize(
    ("age", "sex", "extra", "pregnant", "level", "rule"),
    [
        (45, "male", {}, False, "consultation_24", "sudden_leg_pain_one_side"),
        (75, "male", {}, False, "consultation_24", "sudden_leg_pain_one_side"),
        (
            50,
            "female",
            {"recent_immobility_or_surgery": "present"},
            False,
            "emergency",
            "sudden_leg_pain_with_risk",
        ),
        (60, "male", {"previous_dvt": "present"}, False, "emergency", "sudden_leg_pain_with_risk"),
        (
            60,
            "female",
            {"active_cancer": "present"},
            False,
            "emergency",
            "sudden_leg_pain_with_risk",
        ),
        (30, "female", {}, True, "emergency", "sudden_leg_pain_pregnant"),
        (
            75,
            "male",
            {"absent_foot_pulses": "present"},
            False,
            "emergency_ambulance",
            "sudden_leg_pain_pulseless",
        ),
        (
            75,
            "male",
            {"cold_pale_limb": "present"},
            False,
            "emergency_ambulance",
            "acute_limb_ischaemia",
        ),
    ],
)
def test_sudden_leg_pain_triage(
    age: int, sex: str, extra: dict[str, str], pregnant: bool, level: str, rule: str
) -> None:
    got, rules = _triage(_case(age, sex, {LEG: "present", **extra}, pregnant=pregnant))
    assert got == level
    assert rule in rules


def test_sudden_leg_pain_after_sport_reaches_compartment_syndrome() -> None:
    case = _case(
        20,
        "male",
        {
            LEG: "present",
            "onset_sudden": "present",
            "strenuous_exercise_recent": "present",
            "localised_to_one_muscle": "present",
        },
    )
    level, rules = _triage(case)
    assert level == "emergency" and "p_compartment_syndrome" in rules


@pytest.mark.parametrize("sign", ["numbness", "muscle_weakness"])
def test_sudden_leg_pain_with_numb_or_weak_leg_composes_with_limb_ischaemia(sign: str) -> None:
    # no rule of its own: the existing acute-limb-ischaemia probability trigger does it
    case = _case(75, "male", {LEG: "present", "onset_sudden": "present", sign: "present"})
    level, rules = _triage(case)
    assert level == "emergency_ambulance" and "p_acute_limb_ischaemia" in rules


@pytest.mark.parametrize(("age", "sex"), [(55, "female"), (70, "male"), (35, "female")])
def test_ordinary_night_cramps_in_one_calf_keep_their_triage(age: int, sex: str) -> None:
    level, rules = _triage(_case(age, sex, NIGHT_CRAMP))
    assert level == "self_care"
    assert not rules & {"sudden_leg_pain_one_side", "sudden_leg_pain_with_risk"}
    # answering "no" to the new question changes nothing
    level_no, _ = _triage(_case(age, sex, {**NIGHT_CRAMP, LEG: "absent"}))
    assert level_no == "self_care"


# ------------------------------------------------------------ triage: alcohol withdrawal ---
@pytest.mark.parametrize(
    ("evidence", "level", "rule"),
    [
        ({WITHDRAWAL: "present"}, "consultation_24", "alcohol_withdrawal"),
        (
            {WITHDRAWAL: "present", "muscle_cramps": "present"},
            "consultation_24",
            "alcohol_withdrawal",
        ),
        ({DELIRIUM: "present"}, "emergency", "alcohol_withdrawal_delirium"),
        ({WITHDRAWAL: "present", DELIRIUM: "present"}, "emergency", "alcohol_withdrawal_delirium"),
        # a fit stays emergency_ambulance: the highest level wins
        (
            {DELIRIUM: "present", "seizure": "present"},
            "emergency_ambulance",
            "seizure_or_slurred_speech",
        ),
        (
            {WITHDRAWAL: "present", "seizure": "present"},
            "emergency_ambulance",
            "seizure_or_slurred_speech",
        ),
    ],
)
def test_alcohol_withdrawal_triage(evidence: dict[str, str], level: str, rule: str) -> None:
    got, rules = _triage(_case(45, "male", {"alcohol_excess": "present", **evidence}))
    assert got == level
    assert rule in rules


def test_withdrawal_absent_changes_nothing_for_cramps() -> None:
    base = {"muscle_cramps": "present", "alcohol_excess": "present"}
    level, _ = _triage(_case(45, "male", base))
    level_no, rules_no = _triage(
        _case(45, "male", {**base, WITHDRAWAL: "absent", DELIRIUM: "absent"})
    )
    assert level_no == level
    assert not rules_no & {"alcohol_withdrawal", "alcohol_withdrawal_delirium"}


def test_withdrawal_raises_hypomagnesaemia() -> None:
    base = {"muscle_cramps": "present", "alcohol_excess": "present"}
    p = {c.id: c.probability for c in assess(_case(45, "male", base)).differential}
    with_w = _case(45, "male", {**base, WITHDRAWAL: "present"})
    q = {c.id: c.probability for c in assess(with_w).differential}
    assert q["hypomagnesaemia"] > p["hypomagnesaemia"]


# ------------------------------------------------------------------------ free text ---
def _ids(text: str) -> dict[str, str]:
    return {m.id: m.state for m in parse_text(text).evidence}


@pytest.mark.parametrize(
    ("text", "fid"),
    [
        ("Sudden pain in my left calf after a long flight, still there this evening", LEG),
        ("My leg suddenly became very painful two hours ago", LEG),
        ("I have the shakes since I stopped drinking", WITHDRAWAL),
        ("He has been seeing things since he stopped drinking", DELIRIUM),
        ("Admitted with the DTs after stopping drinking", DELIRIUM),
    ],
)
def test_parser_reads_the_new_findings(text: str, fid: str) -> None:
    assert _ids(text).get(fid) == "present"


@pytest.mark.parametrize(
    "text",
    [
        "I get sudden painful cramps in my left calf at night that ease when I stretch",
        "Sudden cramp in my calf last night, it went after a minute of stretching",
        "Calf cramps at night, only in the right leg",
    ],
)
def test_parser_does_not_read_cramps_as_sudden_leg_pain(text: str) -> None:
    assert LEG not in _ids(text)


def test_parser_negation() -> None:
    assert _ids("No sudden leg pain, just cramps at night").get(LEG) == "absent"
    assert _ids("No alcohol withdrawal symptoms").get(WITHDRAWAL) == "absent"


# ------------------------------------------------------------------ screening kernel ---
def test_screening_kernel_equals_assess_on_the_new_columns(kb: KnowledgeBase) -> None:
    if os.environ.get("CI") != "true":  # in CI a missing extra must fail, not skip
        pytest.importorskip("pyarrow", reason="needs the 'screen' extra")
    from b12dx.screen.rules import load_rules
    from test_screen_kernel import check_rows

    rows: list[dict[str, Any]] = [
        {"age": 45.0, "sex": "male", LEG: True},
        {"age": 50.0, "sex": "female", LEG: True, "recent_immobility_or_surgery": True},
        {"age": 30.0, "sex": "female", "pregnant": True, LEG: True},
        {"age": 75.0, "sex": "male", LEG: True, "absent_foot_pulses": True},
        {"age": 75.0, "sex": "male", LEG: True, "onset_sudden": True, "numbness": True},
        {"age": 55.0, "sex": "female", **{k: True for k in NIGHT_CRAMP}, LEG: False},
        {"age": 45.0, "sex": "male", WITHDRAWAL: True, "alcohol_excess": True},
        {"age": 45.0, "sex": "male", DELIRIUM: True},
        {"age": 45.0, "sex": "male", DELIRIUM: True, "seizure": True},
        {"age": 45.0, "sex": "male", "muscle_cramps": True, WITHDRAWAL: False, DELIRIUM: False},
    ]
    check_rows(rows, kb, load_rules(kb))
