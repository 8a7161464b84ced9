"""Treatment-response review: the follow-up rules of the KB applied to records; and the plots."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b12dx.errors import InputError, KnowledgeBaseError
from b12dx.kb import KnowledgeBase
from b12dx.monitor import (
    PARAM_DAY_FROM,
    PARAM_DAY_TO,
    PARAM_HOURS,
    PARAM_MONTHS,
    PARAM_NORMALISE_MONTHS,
    PARAM_SEVERE_HB,
    RULE_BLOOD_COUNT,
    RULE_IMPROVED,
    RULE_IMPROVED_ORAL,
    RULE_NEURO,
    RULE_NO_RETEST,
    RULE_NOT_IMPROVED,
    RULE_POTASSIUM,
    RULE_RETICULOCYTES,
    RULE_REVIEW,
    RULE_REVIEW_PREGNANCY,
    ReviewResult,
    add_months,
    review,
)
from b12dx.plots import plot_timeline
from b12dx.store.records import Lab, Person, Review, Symptoms, Timeline, Treatment

START = dt.date(2025, 3, 10)
NOW = dt.datetime(2025, 3, 1, 12, 0)


def uid() -> str:
    return uuid.uuid4().hex


def person(**kw: Any) -> Person:
    data: dict[str, Any] = {
        "uid": uid(),
        "ref": "p1",
        "sex": "female",
        "pregnant": False,
        "breastfeeding": False,
        "conditions": (),
        "created_at": NOW,
    }
    return Person.model_validate({**data, **kw})


def diary(day: dt.date, **scores: int) -> Symptoms:
    data: dict[str, Any] = {
        f: None
        for f in (
            "cramps_per_week",
            "worst_severity",
            "tightness",
            "tingling_numbness",
            "balance",
            "fatigue",
        )
    }
    data.update(scores)
    return Symptoms(uid=uid(), date=day, note=None, created_at=NOW, **data)


def lab(test: str, value: float, unit: str, day: dt.date) -> Lab:
    return Lab(uid=uid(), test=test, value=value, unit=unit, date=day, note=None, created_at=NOW)


def course(day: dt.date = START, **kw: Any) -> Treatment:
    data: dict[str, Any] = {
        "uid": uid(),
        "started_on": day,
        "stopped_on": None,
        "route": "intramuscular",
        "product": "hydroxocobalamin",
        "dose": "1 mg",
        "frequency": "every 2 months",
        "indication": "b12_deficiency",
        "lifelong": False,
        "stop_reason": None,
        "note": None,
        "created_at": NOW,
    }
    return Treatment.model_validate({**data, **kw})


def held(day: dt.date, outcome: str = "improved") -> Review:
    return Review.model_validate(
        {
            "uid": uid(),
            "date": day,
            "outcome": outcome,
            "treatment_uid": None,
            "note": None,
            "created_at": NOW,
        }
    )


def tl(**kw: Any) -> Timeline:
    kw.setdefault("person", person())
    return Timeline(**kw)


def param(kb: KnowledgeBase, rule_id: str, name: str) -> float:
    rule = next(r for r in kb.followup if r.id == rule_id)
    return rule.params[name].value


def due(kb: KnowledgeBase, start: dt.date = START, rule: str = RULE_REVIEW) -> dt.date:
    return add_months(start, param(kb, rule, PARAM_MONTHS))


def flag_ids(result: ReviewResult) -> list[str]:
    return [f.id for f in result.flags]


# -- the KB side -----------------------------------------------------------------------------


def test_the_kb_has_every_rule_and_param_this_module_reads(kb: KnowledgeBase) -> None:
    by_id = {r.id: r for r in kb.followup}
    needs = {
        RULE_REVIEW: [PARAM_MONTHS],
        RULE_REVIEW_PREGNANCY: [PARAM_MONTHS],
        RULE_IMPROVED: [],
        RULE_IMPROVED_ORAL: [],
        RULE_NOT_IMPROVED: [],
        RULE_NEURO: [],
        RULE_NO_RETEST: [],
        RULE_POTASSIUM: [PARAM_HOURS],
        RULE_RETICULOCYTES: [PARAM_DAY_FROM, PARAM_DAY_TO],
        RULE_BLOOD_COUNT: [PARAM_NORMALISE_MONTHS],
    }
    for rule_id, params in needs.items():
        assert rule_id in by_id, rule_id
        assert by_id[rule_id].sources and by_id[rule_id].text
        assert set(params) <= set(by_id[rule_id].params), rule_id


def test_a_missing_rule_is_a_knowledge_base_error(kb: KnowledgeBase) -> None:
    bare = kb.model_copy(update={"followup": ()})
    with pytest.raises(KnowledgeBaseError, match=RULE_REVIEW):
        review(tl(treatments=(course(),)), as_of=START, kb=bare)


# -- review dates ----------------------------------------------------------------------------


def test_no_treatment_nothing_to_review(kb: KnowledgeBase) -> None:
    r = review(tl(symptoms=(diary(START, cramps_per_week=3),)), as_of=START, kb=kb)
    assert r.course is None and r.flags == [] and r.response == "unknown"


def test_review_is_due_after_the_kb_interval(kb: KnowledgeBase) -> None:
    r = review(tl(treatments=(course(),)), as_of=START + dt.timedelta(days=1), kb=kb)
    assert r.course is not None and r.course.review_due == due(kb)
    assert flag_ids(r) == ["review_due"] and not r.course.overdue
    assert r.flags[0].sources and due(kb).isoformat() in r.flags[0].reason


@pytest.mark.parametrize("state", [{"pregnant": True}, {"breastfeeding": True}])
def test_review_comes_sooner_in_pregnancy_and_breastfeeding(
    kb: KnowledgeBase, state: dict[str, bool]
) -> None:
    r = review(tl(person=person(**state), treatments=(course(),)), as_of=START, kb=kb)
    assert r.course is not None
    assert r.course.review_due == due(kb, rule=RULE_REVIEW_PREGNANCY) < due(kb)
    assert r.flags[0].rule == RULE_REVIEW_PREGNANCY


def test_an_overdue_review_is_flagged_until_one_is_held(kb: KnowledgeBase) -> None:
    late = due(kb) + dt.timedelta(days=10)
    r = review(tl(treatments=(course(),)), as_of=late, kb=kb)
    assert r.course is not None and r.course.overdue and "review_overdue" in flag_ids(r)
    r = review(
        tl(treatments=(course(),), reviews=(held(due(kb) + dt.timedelta(days=2)),)),
        as_of=late,
        kb=kb,
    )
    assert r.course is not None and not r.course.overdue
    assert r.course.reviewed_on == due(kb) + dt.timedelta(days=2)
    assert "review_overdue" not in flag_ids(r)


def test_a_stopped_course_is_not_overdue(kb: KnowledgeBase) -> None:
    stopped = course(stopped_on=START + dt.timedelta(days=14))
    r = review(tl(treatments=(stopped,)), as_of=due(kb) + dt.timedelta(days=30), kb=kb)
    assert r.course is not None and not r.course.overdue


# -- response ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "response", "flag"),
    [
        (
            {"cramps_per_week": 6, "worst_severity": 7},
            {"cramps_per_week": 1, "worst_severity": 3},
            "improved",
            "continue",
        ),
        (
            {"cramps_per_week": 6, "worst_severity": 7},
            {"cramps_per_week": 6, "worst_severity": 7},
            "not_improved",
            "escalate",
        ),
        (
            {"cramps_per_week": 2, "fatigue": 3},
            {"cramps_per_week": 5, "fatigue": 3},
            "worse",
            "escalate",
        ),
    ],
)
def test_response_from_the_symptom_diary(
    kb: KnowledgeBase, before: dict[str, int], after: dict[str, int], response: str, flag: str
) -> None:
    later = START + dt.timedelta(days=60)
    r = review(
        tl(treatments=(course(),), symptoms=(diary(START, **before), diary(later, **after))),
        as_of=later,
        kb=kb,
    )
    assert r.response == response and r.response_basis == "diary"
    assert flag in flag_ids(r) and "neuro_worse" not in flag_ids(r)
    rule = RULE_IMPROVED if flag == "continue" else RULE_NOT_IMPROVED
    assert next(f for f in r.flags if f.id == flag).rule == rule


def test_improved_on_an_irreversible_cause_continues_for_life(kb: KnowledgeBase) -> None:
    later = START + dt.timedelta(days=60)
    r = review(
        tl(
            treatments=(course(lifelong=True),),
            symptoms=(diary(START, cramps_per_week=5), diary(later, cramps_per_week=0)),
        ),
        as_of=later,
        kb=kb,
    )
    reason = next(f for f in r.flags if f.id == "continue").reason
    assert "lifelong" in reason


@pytest.mark.parametrize(("before", "after"), [(0, 3), (2, 5), (None, 1)])
def test_new_or_worse_neurological_symptoms_are_urgent(
    kb: KnowledgeBase, before: int | None, after: int
) -> None:
    later = START + dt.timedelta(days=30)
    first = (
        diary(START, cramps_per_week=5)
        if before is None
        else diary(START, cramps_per_week=5, tingling_numbness=before)
    )
    r = review(
        tl(
            treatments=(course(),),
            symptoms=(first, diary(later, cramps_per_week=1, tingling_numbness=after)),
        ),
        as_of=later,
        kb=kb,
    )
    assert r.urgent and r.flags[0].id == "neuro_worse" and r.flags[0].rule == RULE_NEURO
    assert r.response == "worse"


def test_a_review_recorded_after_the_diary_wins(kb: KnowledgeBase) -> None:
    later = START + dt.timedelta(days=60)
    r = review(
        tl(
            treatments=(course(),),
            symptoms=(diary(START, cramps_per_week=5), diary(later, cramps_per_week=1)),
            reviews=(held(later + dt.timedelta(days=1), "not_improved"),),
        ),
        as_of=later + dt.timedelta(days=2),
        kb=kb,
    )
    assert r.response == "not_improved" and r.response_basis == "recorded_review"


def test_without_diary_entries_after_the_start_the_response_is_unknown(kb: KnowledgeBase) -> None:
    r = review(
        tl(treatments=(course(),), symptoms=(diary(START, cramps_per_week=5),)),
        as_of=START + dt.timedelta(days=5),
        kb=kb,
    )
    assert r.response == "unknown" and r.changes == []


# -- B12 re-testing and potassium -------------------------------------------------------------


def test_no_b12_retest_once_established_on_long_term_replacement(kb: KnowledgeBase) -> None:
    as_of = due(kb) + dt.timedelta(days=100)
    base = {"treatments": (course(lifelong=True),), "reviews": (held(due(kb)),)}
    r = review(tl(**base), as_of=as_of, kb=kb)
    assert "no_b12_retest" in flag_ids(r)
    retested = lab("b12_total", 500, "ng/L", due(kb) + dt.timedelta(days=50))
    r = review(tl(**base, labs=(retested,)), as_of=as_of, kb=kb)
    f = next(f for f in r.flags if f.id == "b12_retest")
    assert f.level == "action" and f.rule == RULE_NO_RETEST
    assert retested.date.isoformat() in f.reason
    # not established yet: early B12 results are fine
    r = review(tl(treatments=(course(lifelong=True),)), as_of=START + dt.timedelta(days=5), kb=kb)
    assert not {"no_b12_retest", "b12_retest"} & set(flag_ids(r))


def _hb_low(kb: KnowledgeBase) -> float:
    """A haemoglobin value (g/L) in the KB's anaemia band for a non-pregnant woman, and below
    the rule's severe threshold when the rule has one."""
    rule = next(r for r in kb.followup if r.id == RULE_POTASSIUM)
    limit = rule.params.get(PARAM_SEVERE_HB)
    bands = [
        b
        for b in kb.lab_by_id["haemoglobin"].bands
        if b.abnormal
        and b.upper is not None
        and b.sex in ("any", "female")
        and b.pregnant in (None, False)
    ]
    top = min([b.upper for b in bands if b.upper is not None] + ([limit.value] if limit else []))
    return top * 0.6


def test_potassium_is_checked_early_in_severe_pernicious_anaemia(kb: KnowledgeBase) -> None:
    pa = person(conditions=("autoimmune_gastritis",))
    hb = lab("haemoglobin", _hb_low(kb), "g/L", START - dt.timedelta(days=2))
    r = review(tl(person=pa, treatments=(course(),), labs=(hb,)), as_of=START, kb=kb)
    f = next(f for f in r.flags if f.id == "potassium_check")
    assert f.level == "action" and f.rule == RULE_POTASSIUM and "haemoglobin" in f.reason
    k = lab("potassium", 3.9, "mmol/L", START + dt.timedelta(days=1))
    r = review(
        tl(person=pa, treatments=(course(),), labs=(hb, k)),
        as_of=START + dt.timedelta(days=1),
        kb=kb,
    )
    assert "potassium_window" in flag_ids(r) and "potassium_check" not in flag_ids(r)


@pytest.mark.parametrize("case", ["no_pernicious_anaemia", "after_window", "no_anaemia"])
def test_no_potassium_flag_outside_its_rule(kb: KnowledgeBase, case: str) -> None:
    pa = person(conditions=() if case == "no_pernicious_anaemia" else ("autoimmune_gastritis",))
    value = 150.0 if case == "no_anaemia" else _hb_low(kb)
    hb = lab("haemoglobin", value, "g/L", START)
    as_of = START + dt.timedelta(days=60) if case == "after_window" else START
    r = review(tl(person=pa, treatments=(course(),), labs=(hb,)), as_of=as_of, kb=kb)
    assert not {"potassium_check", "potassium_window"} & set(flag_ids(r))


def test_every_flag_names_its_rule_and_sources(kb: KnowledgeBase) -> None:
    later = due(kb) + dt.timedelta(days=5)
    r = review(
        tl(
            person=person(conditions=("autoimmune_gastritis",)),
            treatments=(course(lifelong=True),),
            symptoms=(
                diary(START, cramps_per_week=5, balance=1),
                diary(later, cramps_per_week=5, balance=4),
            ),
            labs=(lab("b12_total", 120, "ng/L", START),),
        ),
        as_of=later,
        kb=kb,
    )
    rules = {rule.id: rule for rule in kb.followup}
    assert r.flags
    for f in r.flags:
        assert f.reason and f.sources == list(rules[f.rule].sources)
    assert [t.test for t in r.labs] == ["b12_total"]
    assert r.model_dump(by_alias=True)["schema"] == "b12dx/review/v1"


@given(
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 1, 1)),
    st.integers(min_value=0, max_value=48),
)
def test_add_months_moves_whole_calendar_months(day: dt.date, n: int) -> None:
    out = add_months(day, n)
    assert (out.year * 12 + out.month) - (day.year * 12 + day.month) == n
    assert out.day == day.day or (out.day < day.day and (out + dt.timedelta(days=1)).day == 1)


# -- plots ------------------------------------------------------------------------------------


def _full(kb: KnowledgeBase) -> Timeline:
    return tl(
        treatments=(
            course(stopped_on=START + dt.timedelta(days=20)),
            course(START + dt.timedelta(days=21), product="oral-b12-test"),
        ),
        labs=(
            lab("b12_total", 120, "ng/L", START),
            lab("b12_total", 420, "ng/L", START + dt.timedelta(days=60)),
            lab("mma", 0.6, "umol/L", START),
            lab("haemoglobin", 104, "g/L", START),
        ),
        symptoms=(
            diary(START, cramps_per_week=6, worst_severity=8),
            diary(START + dt.timedelta(days=60), cramps_per_week=1, worst_severity=2),
        ),
    )


def test_plot_png_and_svg(kb: KnowledgeBase) -> None:
    timeline = _full(kb)
    png = plot_timeline(timeline, fmt="png", kb=kb)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot_timeline(timeline, fmt="svg", kb=kb)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = svg.decode()
    assert "oral-b12-test" in text  # treatment annotation
    for test in ("b12_total", "mma", "haemoglobin"):
        assert kb.lab_by_id[test].name in text  # one panel per test
        for band in kb.lab_by_id[test].bands:
            if band.sex in ("any", "female") and band.pregnant in (None, False):
                assert band.label in text  # reference bands are labelled
    assert "worst severity" in text and "cramp episodes" in text
    assert plot_timeline(timeline, fmt="svg", kb=kb) == svg  # deterministic


def test_plot_of_an_empty_record(kb: KnowledgeBase) -> None:
    svg = plot_timeline(tl(), fmt="svg", kb=kb)
    assert b"no symptom diary entries" in svg


def test_plot_format_is_checked(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError, match="png or svg"):
        plot_timeline(tl(), fmt="gif", kb=kb)  # type: ignore[arg-type]


def test_improved_on_oral_follows_the_oral_rule(kb: KnowledgeBase) -> None:
    later = START + dt.timedelta(days=60)
    r = review(
        tl(
            treatments=(course(route="oral", product="cyanocobalamin"),),
            symptoms=(diary(START, cramps_per_week=5), diary(later, cramps_per_week=0)),
        ),
        as_of=later,
        kb=kb,
    )
    assert next(f for f in r.flags if f.id == "continue").rule == RULE_IMPROVED_ORAL


def test_an_irreversible_cause_in_the_kb_makes_treatment_lifelong(kb: KnowledgeBase) -> None:
    tagged = [r.id for r in kb.risk_factors if "irreversible" in r.tags]
    assert tagged
    r = review(
        tl(person=person(conditions=(tagged[0],)), treatments=(course(),)), as_of=START, kb=kb
    )
    assert r.course is not None and r.course.lifelong
    r = review(tl(treatments=(course(),)), as_of=START, kb=kb)
    assert r.course is not None and not r.course.lifelong


def test_reticulocytes_are_due_in_their_window(kb: KnowledgeBase) -> None:
    pa = person(conditions=("autoimmune_gastritis",))
    first = START + dt.timedelta(days=param(kb, RULE_RETICULOCYTES, PARAM_DAY_FROM))
    r = review(tl(person=pa, treatments=(course(),)), as_of=first, kb=kb)
    assert "reticulocytes_due" in flag_ids(r)
    r = review(tl(person=pa, treatments=(course(),)), as_of=first - dt.timedelta(days=1), kb=kb)
    assert "reticulocytes_due" not in flag_ids(r)


def test_haemoglobin_still_low_after_the_expected_time_needs_review(kb: KnowledgeBase) -> None:
    by = add_months(START, param(kb, RULE_BLOOD_COUNT, PARAM_NORMALISE_MONTHS))
    low = lab("haemoglobin", _hb_low(kb), "g/L", by + dt.timedelta(days=1))
    r = review(tl(treatments=(course(),), labs=(low,)), as_of=by + dt.timedelta(days=2), kb=kb)
    f = next(f for f in r.flags if f.id == "haemoglobin_not_normalised")
    assert f.level == "action" and f.rule == RULE_BLOOD_COUNT
    ok = lab("haemoglobin", 150, "g/L", by + dt.timedelta(days=1))
    r = review(tl(treatments=(course(),), labs=(ok,)), as_of=by + dt.timedelta(days=2), kb=kb)
    assert "haemoglobin_not_normalised" not in flag_ids(r)


def test_loading_then_maintenance_is_one_episode(kb: KnowledgeBase) -> None:
    switch = START + dt.timedelta(days=14)
    loading = course(stopped_on=switch, frequency="alternate days")
    maintenance = course(switch, frequency="every 2 months")
    r = review(tl(treatments=(loading, maintenance)), as_of=switch + dt.timedelta(days=1), kb=kb)
    assert r.course is not None and r.course.treatment_uid == maintenance.uid
    assert r.course.episode_started_on == START and r.course.review_due == due(kb)


def test_a_course_started_after_a_review_restarts_the_clock(kb: KnowledgeBase) -> None:
    review_day = due(kb)
    first = course(stopped_on=review_day)
    escalated = course(review_day, frequency="every month")
    r = review(
        tl(treatments=(first, escalated), reviews=(held(review_day, "not_improved"),)),
        as_of=review_day + dt.timedelta(days=1),
        kb=kb,
    )
    assert r.course is not None and r.course.episode_started_on == review_day
    assert r.course.review_due == due(kb, start=review_day)


def test_a_course_after_a_gap_is_a_new_episode(kb: KnowledgeBase) -> None:
    first = course(stopped_on=START + dt.timedelta(days=30))
    later = course(START + dt.timedelta(days=200))
    r = review(tl(treatments=(first, later)), as_of=START + dt.timedelta(days=201), kb=kb)
    assert r.course is not None and r.course.episode_started_on == later.started_on
