"""Cramps that last longer than 10 minutes, or that wake a person most nights or stop exercise.

NICE CKS: a cramp usually lasts several minutes, up to 10; the NHS page sends people to a GP when
cramps last longer than 10 minutes or disturb sleep. These findings must move self-care cases to a
routine consultation, add an ABPI check for exercise cramps that stop exercise from 50 (NICE QS52,
CG147), and leave ordinary night and exercise cramps at self-care. The free-text reader must tell
a 25-minute spasm from a two-minute cramp, and "cramps stop me exercising" from "they don't".
"""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from b12dx.nlp import parse_text

LONG = "cramps_long_lasting"
DISABLING = "cramps_disabling"
PAD_RULE = "exercise_cramps_stop_exercise_over_50"

NIGHT = ("muscle_cramps", "nocturnal_leg_cramps")
EXERCISE = ("muscle_cramps", "cramps_after_exercise")


def _case(age: int, *present: str, sex: str = "male", **extra: Any) -> dict[str, Any]:
    return {
        "schema": "b12dx/case/v1",
        "age": age,
        "sex": sex,
        "evidence": [{"id": f, "state": "present"} for f in present],
        **extra,
    }


def _triage(case: dict[str, Any], kb: KnowledgeBase) -> tuple[str, set[str]]:
    a = assess(case, kb=kb)
    return a.triage.level, {r.rule for r in a.triage.reasons}


# ------------------------------------------------------------------ knowledge base ---
@pytest.mark.parametrize("fid", [LONG, DISABLING])
def test_findings_have_questions_lay_words_and_sourced_links(fid: str, kb: KnowledgeBase) -> None:
    f = kb.finding_by_id[fid]
    assert f.question and f.lay_name and f.synonyms
    assert "muscle_complaint" in f.tags
    assert f.leak.sources and f.leak.rationale
    links = [link for link in kb.links if link.finding == fid]
    assert len(links) >= 5
    assert all(link.sources and link.rationale for link in links)


def test_the_ten_minute_figure_is_sourced_data(kb: KnowledgeBase) -> None:
    f = kb.finding_by_id[LONG]
    assert "10 minutes" in f.name and "10 minutes" in (f.question or "")
    assert "cks-leg-cramps-2012" in f.leak.sources
    assert "up to 10 minutes" in (kb.source_by_id["cks-leg-cramps-2012"].note or "")
    assert "longer than 10 minutes" in (kb.source_by_id["nhs-leg-cramps"].note or "")


def test_long_cramps_favour_tetany_causes_over_benign_cramps(kb: KnowledgeBase) -> None:
    value = {link.cause: link.value for link in kb.links if link.finding == LONG}
    leak = kb.finding_by_id[LONG].leak.value
    for benign in ("idiopathic_nocturnal_cramps", "exercise_associated_cramps"):
        # near zero: the finding must not count for the benign cramp types
        assert value[benign] < leak
        assert value[benign] < value["hypocalcaemia"] and value[benign] < value["hypomagnesaemia"]


def test_disabling_cramps_favour_claudication_over_exercise_cramps(kb: KnowledgeBase) -> None:
    value = {link.cause: link.value for link in kb.links if link.finding == DISABLING}
    assert value["exercise_associated_cramps"] < value["idiopathic_nocturnal_cramps"]
    assert value["idiopathic_nocturnal_cramps"] < value["peripheral_artery_disease"]


def test_pad_rule_age_is_sourced(kb: KnowledgeBase) -> None:
    rule = next(r for r in kb.triage.red_flags if r.id == PAD_RULE)
    age = rule.when.age_at_least
    assert age is not None and age.sources and age.rationale
    assert rule.level == "consultation" and "ABPI" in rule.action


# ------------------------------------------------------------------------ triage ---
@pytest.mark.parametrize(
    ("age", "present", "rule"),
    [
        (62, (*NIGHT, LONG), LONG),
        (45, ("muscle_spasms", "nocturnal_leg_cramps", LONG, "onset_gradual"), LONG),
        (62, (*NIGHT, DISABLING), DISABLING),
        (35, (*EXERCISE, DISABLING), DISABLING),
        (53, (*EXERCISE, DISABLING), PAD_RULE),
        (70, (*EXERCISE, DISABLING), PAD_RULE),
    ],
)
def test_atypical_cramps_go_to_a_consultation(
    age: int, present: tuple[str, ...], rule: str, kb: KnowledgeBase
) -> None:
    level, rules = _triage(_case(age, *present), kb)
    assert level == "consultation"
    assert rule in rules
    assert "self_care" not in rules


@pytest.mark.parametrize(
    ("age", "present"),
    [
        (62, NIGHT),
        (45, NIGHT),
        (53, EXERCISE),
        (25, ("cramps_after_exercise", "strenuous_exercise_recent")),
    ],
)
def test_ordinary_cramps_stay_self_care(
    age: int, present: tuple[str, ...], kb: KnowledgeBase
) -> None:
    level, rules = _triage(_case(age, *present), kb)
    assert level == "self_care"
    assert not rules & {LONG, DISABLING, PAD_RULE}


@pytest.mark.parametrize("fid", [LONG, DISABLING])
def test_absent_findings_change_nothing_for_night_cramps(fid: str, kb: KnowledgeBase) -> None:
    case = _case(62, *NIGHT)
    case["evidence"].append({"id": fid, "state": "absent"})
    level, rules = _triage(case, kb)
    assert level == "self_care" and fid not in rules


def test_pad_rule_needs_age_50(kb: KnowledgeBase) -> None:
    _, young = _triage(_case(49, *EXERCISE, DISABLING), kb)
    _, older = _triage(_case(50, *EXERCISE, DISABLING), kb)
    assert PAD_RULE not in young and PAD_RULE in older


def test_pad_rule_needs_the_cramps_to_stop_exercise(kb: KnowledgeBase) -> None:
    _, rules = _triage(_case(60, *EXERCISE), kb)
    assert PAD_RULE not in rules
    # night cramps that stop activity at 60 are the disabling rule only, without the ABPI advice
    _, rules = _triage(_case(60, *NIGHT, DISABLING), kb)
    assert DISABLING in rules and PAD_RULE not in rules


def test_pregnancy_long_cramp_is_a_consultation(kb: KnowledgeBase) -> None:
    case = _case(30, "nocturnal_leg_cramps", LONG, sex="female", pregnant=True)
    level, rules = _triage(case, kb)
    assert level == "consultation" and LONG in rules


def test_long_cramp_raises_magnesium_and_calcium(kb: KnowledgeBase) -> None:
    base = {d.id: d.probability for d in assess(_case(62, *NIGHT), kb=kb).differential}
    more = {d.id: d.probability for d in assess(_case(62, *NIGHT, LONG), kb=kb).differential}
    for cause in ("hypomagnesaemia", "hypocalcaemia"):
        assert more[cause] > base[cause]
    assert more["idiopathic_nocturnal_cramps"] <= base["idiopathic_nocturnal_cramps"] + 0.01


# ------------------------------------------------------------------------ free text ---
def _read(text: str) -> dict[str, str]:
    return {m.id: m.state for m in parse_text(text).evidence}


@pytest.mark.parametrize(
    ("text", "fid"),
    [
        ("I get night spasms in my calves that last 25 minutes.", LONG),
        ("My cramps last 20 minutes.", LONG),
        ("The cramp in my calf went on for half an hour.", LONG),
        ("Night cramps that last longer than 10 minutes.", LONG),
        ("Cramps stop me exercising now.", DISABLING),
        ("The cramps keep me awake every night.", DISABLING),
        ("Night cramps keep me awake.", DISABLING),
        ("I get calf cramps when I exercise, and now they stop me doing any exercise.", DISABLING),
        ("I had to give up running because of the cramps.", DISABLING),
    ],
)
def test_parser_reads_the_new_findings(text: str, fid: str) -> None:
    found = _read(text)
    assert found.get(fid) == "present"
    assert found.get("muscle_cramps") == "present"


@pytest.mark.parametrize(
    "text",
    [
        "Night cramps in my calves, they last a minute or two.",
        "My cramps never last more than 10 minutes.",
        "I stretch for 20 minutes before bed and still get cramps.",
        "The cramps don't stop me exercising.",
        "I get cramps when I exercise but they don't stop me.",
        "I have cramps every night.",
        "I have cramps at night, they last a few minutes and I go straight back to sleep.",
        "My cramps don't keep me awake.",
        "He's been utterly exhausted and breathless, with frequent leg cramps.",
    ],
)
def test_parser_leaves_ordinary_cramps_alone(text: str) -> None:
    found = _read(text)
    assert LONG not in found and DISABLING not in found
    assert found.get("muscle_cramps") == "present"


def test_denied_cramps_are_not_long_or_disabling() -> None:
    found = _read("I don't get cramps that last 20 minutes.")
    assert found.get(LONG) != "present"


def test_free_text_to_triage_end_to_end(kb: KnowledgeBase) -> None:
    man = "I'm a 62-year-old man with night cramps in my calves"
    ordinary = parse_text(f"{man} lasting a minute or two.")
    long = parse_text(f"{man} that last 20 minutes.")
    assert assess(ordinary.case_data(), kb=kb).triage.level == "self_care"
    assert assess(long.case_data(), kb=kb).triage.level == "consultation"
