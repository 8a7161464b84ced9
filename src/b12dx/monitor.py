"""Treatment response and follow-up: is B12 treatment working, and when is the next review due?

``review(timeline, as_of=...)`` reads one person's records and applies the guideline follow-up
rules of the knowledge base (``followup.toml``): review after a set time on treatment (sooner in
pregnancy or breastfeeding); improved → continue, for life when the cause is irreversible; not
improved or worse → increase the frequency or switch to injections and consider other
diagnoses; new or worse neurological symptoms → urgent; no B12 re-testing once established on
long-term replacement; potassium early on when severe pernicious anaemia is treated. Every flag
carries its reason (the facts of this person) and the rule's sources. All numbers (intervals,
windows) come from the rules' params; this module only compares dates and diary scores.

Response is read from the symptom diary: each domain (cramp episodes per week, worst severity,
tightness, tingling/numbness, balance, fatigue) at baseline (the last entry on or before the
start of treatment, else the first entry after it) against the latest entry. Improved: some
domain better and none worse. Worse: any domain worse. Not improved: no change. A review the
clinician recorded after the latest diary entry overrides the computed response.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import InputError, Issue, KnowledgeBaseError
from .kb import FollowupRule, KnowledgeBase, load_kb
from .store.records import (
    EARLIEST,
    LATEST,
    SYMPTOM_FIELDS,
    Lab,
    Review,
    Symptoms,
    Timeline,
    Treatment,
)

__all__ = [
    "REVIEW_SCHEMA",
    "CourseStatus",
    "DomainChange",
    "Flag",
    "LabTrend",
    "ReviewResult",
    "add_months",
    "review",
]

REVIEW_SCHEMA: Literal["b12dx/review/v1"] = "b12dx/review/v1"
Level = Literal["urgent", "action", "info"]
Change = Literal["better", "same", "worse", "new", "unknown"]
Response = Literal["improved", "not_improved", "worse", "unknown"]

# The follow-up rules this module interprets (ids in followup.toml) and the params it reads.
RULE_REVIEW = "review_at_3_months"
RULE_REVIEW_PREGNANCY = "review_at_1_month_pregnancy"
RULE_IMPROVED = "improved_continue"  # intramuscular (and other non-oral) replacement
RULE_IMPROVED_ORAL = "improved_oral_cause_addressed"
RULE_NOT_IMPROVED = "not_improved"
RULE_NEURO = "new_or_worse_neurological"
RULE_NO_RETEST = "do_not_retest_b12"
RULE_POTASSIUM = "potassium_first_48h"
RULE_RETICULOCYTES = "reticulocytes_day_5_7"
RULE_BLOOD_COUNT = "blood_count_normal_by_8_weeks"
PARAM_MONTHS = "review_months"
PARAM_HOURS = "monitor_hours"
PARAM_DAY_FROM = "check_day_from"
PARAM_DAY_TO = "check_day_to"
PARAM_NORMALISE_MONTHS = "normalise_months"
# Optional: a haemoglobin (g/L) below which anaemia counts as severe for the potassium rule.
# Without it any anaemia by the KB's haemoglobin bands counts (the conservative reading).
PARAM_SEVERE_HB = "severe_haemoglobin_below"
# The KB tag of causes that cannot be reversed (treatment is then lifelong).
IRREVERSIBLE_TAG = "irreversible"

# Diary domains that are neurological: new or worse ones make the review urgent.
NEURO_FIELDS = ("tingling_numbness", "balance")
# KB lab ids: B12 tests (not to be repeated on long-term replacement) and the trends shown.
B12_TESTS = ("b12_total", "b12_active")
TREND_TESTS = ("b12_total", "b12_active", "mma", "homocysteine", "haemoglobin", "mcv")
PERNICIOUS_ANAEMIA = "autoimmune_gastritis"
HOURS_PER_DAY = 24  # calendar arithmetic, not a clinical number


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Flag(_Out):
    """Something the clinician should do or know, with why and on what authority."""

    id: str
    level: Level
    text: str  # what the guideline says to do
    reason: str  # the facts of this person that made the rule fire
    rule: str
    sources: list[str]
    evidence: str


class DomainChange(_Out):
    domain: str
    baseline: int | None
    latest: int | None
    change: Change


class LabTrend(_Out):
    test: str
    name: str
    unit: str
    first_date: dt.date
    first_value: float  # in the KB's canonical unit
    latest_date: dt.date
    latest_value: float
    latest_band: str | None
    n: int


class CourseStatus(_Out):
    """The treatment course under review and its review date."""

    treatment_uid: str
    started_on: dt.date
    route: str
    product: str
    dose: str
    frequency: str
    lifelong: bool
    episode_started_on: dt.date  # first of the contiguous courses with no review between
    review_due: dt.date
    review_interval_months: float
    reviewed_on: dt.date | None
    overdue: bool


class ReviewResult(_Out):
    """The follow-up review of one person on one day (schema ``b12dx/review/v1``)."""

    schema_: Literal["b12dx/review/v1"] = Field(default=REVIEW_SCHEMA, alias="schema")
    person: str
    as_of: dt.date
    course: CourseStatus | None
    response: Response
    response_basis: Literal["diary", "recorded_review", "none"]
    baseline_date: dt.date | None
    latest_date: dt.date | None
    changes: list[DomainChange]
    labs: list[LabTrend]
    flags: list[Flag]
    kb_version: str
    kb_sha256: str

    @property
    def urgent(self) -> bool:
        return any(f.level == "urgent" for f in self.flags)


# -- helpers ---------------------------------------------------------------------------------


def add_months(day: dt.date, months: float) -> dt.date:
    """*day* plus *months* calendar months (fractions as a share of the month that follows)."""
    whole = math.floor(months)
    y, m = divmod(day.month - 1 + whole, 12)
    year, month = day.year + y, m + 1
    d = min(day.day, calendar.monthrange(year, month)[1])
    out = dt.date(year, month, d)
    frac = months - whole
    if frac:
        out += dt.timedelta(days=round(frac * calendar.monthrange(year, month)[1]))
    return out


def _rule(kb: KnowledgeBase, rule_id: str, *params: str) -> FollowupRule:
    for rule in kb.followup:
        if rule.id == rule_id:
            missing = [p for p in params if p not in rule.params]
            if missing:
                raise KnowledgeBaseError(
                    [Issue(f"followup.toml ({rule_id})", f"missing params {missing}")]
                )
            return rule
    raise KnowledgeBaseError(
        [Issue("followup.toml", f"no follow-up rule {rule_id!r}; b12dx.monitor needs it")]
    )


def _flag(
    rule: FollowupRule, flag_id: str, level: Level, reason: str, text: str | None = None
) -> Flag:
    return Flag(
        id=flag_id,
        level=level,
        text=text or rule.text,
        reason=reason,
        rule=rule.id,
        sources=list(rule.sources),
        evidence=rule.evidence,
    )


def _canonical(kb: KnowledgeBase, lab: Lab) -> float:
    from .labs import convert

    return convert(kb.lab_by_id[lab.test], lab.value, lab.unit)


def _compare(before: int | None, after: int | None) -> Change:
    if after is None:
        return "unknown"
    if before is None:
        return "new" if after > 0 else "unknown"
    if after < before:
        return "better"
    if after > before:
        return "new" if before == 0 else "worse"
    return "same"


def _course(treatments: Sequence[Treatment], as_of: dt.date) -> Treatment | None:
    """The course under review: the latest one active on *as_of* (else the latest started)."""
    started = [t for t in treatments if t.started_on <= as_of]
    active = [t for t in started if t.active_on(as_of)]
    pool = active or started
    return max(pool, key=lambda t: (t.started_on, t.created_at)) if pool else None


def _episode(
    treatments: Sequence[Treatment], course: Treatment, reviews: Sequence[Review]
) -> list[Treatment]:
    """*course* and the contiguous courses before it with no review held in between.

    A loading course followed by maintenance is one episode of treatment: its review falls due
    from the first start. A course started after a review (an escalation, say) starts afresh.
    """
    chain = [course]
    earlier = sorted(
        (
            t
            for t in treatments
            if (t.started_on, t.created_at) < (course.started_on, course.created_at)
        ),
        key=lambda t: (t.started_on, t.created_at),
    )
    current = course
    for prev in reversed(earlier):
        contiguous = prev.stopped_on is None or prev.stopped_on >= current.started_on
        reviewed = any(prev.started_on < r.date <= current.started_on for r in reviews)
        if prev.indication != current.indication or not contiguous or reviewed:
            break
        chain.insert(0, prev)
        current = prev
    return chain


def _baseline(diary: Sequence[Symptoms], start: dt.date) -> Symptoms | None:
    before = [s for s in diary if s.date <= start]
    if before:
        return before[-1]
    return diary[0] if diary else None


def _person_conditions(tl: Timeline) -> set[str]:
    out = set(tl.person.conditions)
    if tl.assessments:
        case = tl.assessments[-1].data.get("case")
        if isinstance(case, dict):
            for item in case.get("evidence", []) or []:
                if isinstance(item, dict) and item.get("state", "present") == "present":
                    out.add(str(item.get("id")))
    return out


def _lifelong(kb: KnowledgeBase, tl: Timeline, course: Treatment) -> bool:
    """Lifelong when recorded so, when a condition is tagged irreversible in the KB, or when the
    latest stored assessment's treatment plan says so."""
    if course.lifelong:
        return True
    if any(IRREVERSIBLE_TAG in kb.tags_of.get(c, frozenset()) for c in _person_conditions(tl)):
        return True
    if tl.assessments:
        plan = tl.assessments[-1].data.get("treatment")
        if isinstance(plan, dict) and plan.get("lifelong") is True:
            return True
    return False


# -- the review ------------------------------------------------------------------------------


def review(
    tl: Timeline, *, as_of: dt.date | None = None, kb: KnowledgeBase | None = None
) -> ReviewResult:
    """Apply the follow-up rules to one person's records as they stood on *as_of*."""
    kb = kb or load_kb()
    as_of = as_of or dt.date.today()
    if not EARLIEST <= as_of <= LATEST:
        raise InputError(
            f"review date {as_of.isoformat()} is outside {EARLIEST.isoformat()} to "
            f"{LATEST.isoformat()}",
            where="as_of",
        )
    person = tl.person
    flags: list[Flag] = []
    diary = [s for s in tl.symptoms if s.date <= as_of]
    labs = [lab for lab in tl.labs if lab.date <= as_of]
    trends = _lab_trends(kb, labs, sex=person.sex, pregnant=person.pregnant)
    course = _course(tl.treatments, as_of)
    if course is None:
        return ReviewResult(
            person=person.ref,
            as_of=as_of,
            course=None,
            response="unknown",
            response_basis="none",
            baseline_date=None,
            latest_date=None,
            changes=[],
            labs=trends,
            flags=[],
            kb_version=kb.version,
            kb_sha256=kb.sha256,
        )

    # when the review is due, and whether it happened
    rule = _rule(kb, RULE_REVIEW, PARAM_MONTHS)
    why_interval = "on treatment"
    if person.pregnant or person.breastfeeding:
        rule = _rule(kb, RULE_REVIEW_PREGNANCY, PARAM_MONTHS)
        why_interval = "pregnant" if person.pregnant else "breastfeeding"
    months = rule.params[PARAM_MONTHS].value
    episode = _episode(tl.treatments, course, tl.reviews)
    start = episode[0].started_on
    uids = {None, *(t.uid for t in episode)}
    due = add_months(start, months)
    held = [r for r in tl.reviews if due <= r.date <= as_of and r.treatment_uid in uids]
    reviewed_on = held[0].date if held else None
    overdue = course.active_on(as_of) and reviewed_on is None and as_of > due
    status = CourseStatus(
        treatment_uid=course.uid,
        started_on=course.started_on,
        route=course.route,
        product=course.product,
        dose=course.dose,
        frequency=course.frequency,
        lifelong=_lifelong(kb, tl, course),
        episode_started_on=start,
        review_due=due,
        review_interval_months=months,
        reviewed_on=reviewed_on,
        overdue=overdue,
    )
    if overdue:
        flags.append(
            _flag(
                rule,
                "review_overdue",
                "action",
                f"review was due on {due.isoformat()} ({months:g} months after "
                f"treatment started on {start.isoformat()}, {why_interval}); none recorded "
                "since",
            )
        )
    elif reviewed_on is None and course.active_on(as_of):
        flags.append(
            _flag(
                rule,
                "review_due",
                "info",
                f"first review due on {due.isoformat()} ({months:g} months after "
                f"treatment started on {start.isoformat()}, {why_interval})",
            )
        )

    # response: from the diary, unless a review recorded later says otherwise
    after = [s for s in diary if s.date > start]
    base = _baseline(diary, start)
    latest = after[-1] if after else None
    changes: list[DomainChange] = []
    response: Response = "unknown"
    basis: Literal["diary", "recorded_review", "none"] = "none"
    if base is not None and latest is not None and latest is not base:
        for name in SYMPTOM_FIELDS:
            changes.append(
                DomainChange(
                    domain=name,
                    baseline=getattr(base, name),
                    latest=getattr(latest, name),
                    change=_compare(getattr(base, name), getattr(latest, name)),
                )
            )
        kinds = {c.change for c in changes}
        if kinds & {"worse", "new"}:
            response = "worse"
        elif "better" in kinds:
            response = "improved"
        elif "same" in kinds:
            response = "not_improved"
        basis = "diary" if response != "unknown" else "none"
    recorded = [r for r in tl.reviews if start <= r.date <= as_of and r.treatment_uid in uids]
    if recorded and (latest is None or recorded[-1].date >= latest.date):
        response = recorded[-1].outcome
        basis = "recorded_review"

    flags += _response_flags(kb, tl, status, response, basis, changes)
    flags += _retest_flags(kb, status, labs, as_of, course)
    flags += _potassium_flags(kb, tl, start, labs, as_of)
    flags += _blood_flags(kb, tl, start, labs, as_of)
    order = {"urgent": 0, "action": 1, "info": 2}
    flags.sort(key=lambda f: order[f.level])
    return ReviewResult(
        person=person.ref,
        as_of=as_of,
        course=status,
        response=response,
        response_basis=basis,
        baseline_date=base.date if base else None,
        latest_date=latest.date if latest else None,
        changes=changes,
        labs=trends,
        flags=flags,
        kb_version=kb.version,
        kb_sha256=kb.sha256,
    )


def _response_flags(
    kb: KnowledgeBase,
    tl: Timeline,
    course: CourseStatus,
    response: Response,
    basis: str,
    changes: Sequence[DomainChange],
) -> list[Flag]:
    flags: list[Flag] = []
    where = "the clinician's recorded review" if basis == "recorded_review" else "the symptom diary"
    neuro = [c for c in changes if c.domain in NEURO_FIELDS and c.change in ("worse", "new")]
    if neuro:
        rule = _rule(kb, RULE_NEURO)
        detail = ", ".join(
            f"{c.domain.replace('_', '/')} {'none' if c.baseline is None else c.baseline} "
            f"→ {c.latest}"
            for c in neuro
        )
        flags.append(
            _flag(
                rule,
                "neuro_worse",
                "urgent",
                f"new or worse neurological symptoms since treatment started ({detail})",
            )
        )
    if response == "improved":
        rule = _rule(kb, RULE_IMPROVED_ORAL if course.route == "oral" else RULE_IMPROVED)
        better = [c.domain.replace("_", " ") for c in changes if c.change == "better"]
        reason = f"improved according to {where}"
        if better:
            reason += f" ({', '.join(better)})"
        if course.lifelong:
            reason += "; the cause is irreversible, so treatment is lifelong"
        flags.append(_flag(rule, "continue", "info", reason))
    elif response in ("not_improved", "worse"):
        rule = _rule(kb, RULE_NOT_IMPROVED)
        worse = [c.domain.replace("_", " ") for c in changes if c.change in ("worse", "new")]
        reason = f"{'worse' if response == 'worse' else 'not improved'} according to {where}"
        if worse:
            reason += f" ({', '.join(worse)})"
        reason += (
            f"; current course: {course.product} {course.dose} {course.frequency} ({course.route})"
        )
        flags.append(_flag(rule, "escalate", "action", reason))
    return flags


def _retest_flags(
    kb: KnowledgeBase,
    course: CourseStatus,
    labs: Sequence[Lab],
    as_of: dt.date,
    treatment: Treatment,
) -> list[Flag]:
    """No B12 re-testing once established on long-term replacement."""
    if not (course.lifelong and treatment.active_on(as_of)):
        return []
    established = course.reviewed_on or (course.review_due if as_of >= course.review_due else None)
    if established is None:
        return []
    rule = _rule(kb, RULE_NO_RETEST)
    repeats = [lab for lab in labs if lab.test in B12_TESTS and lab.date > established]
    if repeats:
        dates = ", ".join(lab.date.isoformat() for lab in repeats)
        return [
            _flag(
                rule,
                "b12_retest",
                "action",
                f"B12 was measured again ({dates}) although the person is established on "
                f"long-term replacement since {established.isoformat()}; follow "
                f"symptoms instead",
            )
        ]
    return [
        _flag(
            rule,
            "no_b12_retest",
            "info",
            f"established on long-term replacement since {established.isoformat()}",
        )
    ]


def _potassium_flags(
    kb: KnowledgeBase, tl: Timeline, start: dt.date, labs: Sequence[Lab], as_of: dt.date
) -> list[Flag]:
    """Potassium early in treatment of severe pernicious anaemia."""
    if PERNICIOUS_ANAEMIA not in _person_conditions(tl):
        return []
    rule = _rule(kb, RULE_POTASSIUM, PARAM_HOURS)
    days = math.ceil(rule.params[PARAM_HOURS].value / HOURS_PER_DAY)
    end = start + dt.timedelta(days=days)
    if not start <= as_of <= end:
        return []
    severe = _severe_anaemia(kb, tl, labs, start, rule)
    if severe is None:
        return []
    checked = [lab for lab in labs if lab.test == "potassium" and start <= lab.date <= end]
    if checked:
        last = checked[-1]
        return [
            _flag(
                rule,
                "potassium_window",
                "info",
                f"pernicious anaemia with {severe}; treatment started "
                f"{start.isoformat()}; potassium {last.value:g} {last.unit} on "
                f"{last.date.isoformat()} — keep monitoring until {end.isoformat()}",
            )
        ]
    return [
        _flag(
            rule,
            "potassium_check",
            "action",
            f"pernicious anaemia with {severe}; treatment started "
            f"{start.isoformat()}; no potassium result since — check it "
            f"by {end.isoformat()}",
        )
    ]


def _blood_flags(
    kb: KnowledgeBase, tl: Timeline, start: dt.date, labs: Sequence[Lab], as_of: dt.date
) -> list[Flag]:
    """Early blood checks in pernicious anaemia; haemoglobin that has not normalised in time."""
    from .labs import band_for

    flags: list[Flag] = []
    if PERNICIOUS_ANAEMIA in _person_conditions(tl):
        rule = _rule(kb, RULE_RETICULOCYTES, PARAM_DAY_FROM, PARAM_DAY_TO)
        first = start + dt.timedelta(days=rule.params[PARAM_DAY_FROM].value)
        last = start + dt.timedelta(days=rule.params[PARAM_DAY_TO].value)
        if first <= as_of <= last:
            flags.append(
                _flag(
                    rule,
                    "reticulocytes_due",
                    "info",
                    f"pernicious anaemia; treatment started {start.isoformat()}: "
                    f"check haematocrit and reticulocytes between {first.isoformat()} and "
                    f"{last.isoformat()}",
                )
            )
    rule = _rule(kb, RULE_BLOOD_COUNT, PARAM_NORMALISE_MONTHS)
    by = add_months(start, rule.params[PARAM_NORMALISE_MONTHS].value)
    test = kb.lab_by_id.get("haemoglobin")
    late = [lab for lab in labs if lab.test == "haemoglobin" and lab.date >= by]
    if test is not None and late and start <= as_of:
        last_hb = late[-1]
        band, _ = band_for(
            test,
            _canonical(kb, last_hb),
            sex=tl.person.sex or "female",
            pregnant=tl.person.pregnant,
        )
        if band is not None and band.abnormal:
            flags.append(
                _flag(
                    rule,
                    "haemoglobin_not_normalised",
                    "action",
                    f"haemoglobin {last_hb.value:g} {last_hb.unit} on "
                    f"{last_hb.date.isoformat()} ({band.label}), more than "
                    f"{rule.params[PARAM_NORMALISE_MONTHS].value:g} months after starting "
                    f"treatment on {start.isoformat()}",
                )
            )
    return flags


def _severe_anaemia(
    kb: KnowledgeBase, tl: Timeline, labs: Sequence[Lab], start: dt.date, rule: FollowupRule
) -> str | None:
    """What makes the anaemia count as severe, or None.

    With the rule's ``severe_haemoglobin_below`` param (g/L, canonical unit) the latest
    haemoglobin before treatment must be below it; without that param any anaemia by the KB's
    haemoglobin bands counts (the conservative reading: potassium is checked more often).
    """
    from .labs import band_for

    hb = [lab for lab in labs if lab.test == "haemoglobin" and lab.date <= start]
    test = kb.lab_by_id.get("haemoglobin")
    if not hb or test is None:
        return None
    last = hb[-1]
    value = _canonical(kb, last)
    shown = f"haemoglobin {last.value:g} {last.unit} on {last.date.isoformat()}"
    limit = rule.params.get(PARAM_SEVERE_HB)
    if limit is not None:
        return f"severe anaemia ({shown})" if value < limit.value else None
    band, _ = band_for(test, value, sex=tl.person.sex or "female", pregnant=tl.person.pregnant)
    if band is None or not band.abnormal:
        return None
    return f"{band.label} ({shown})"


def _lab_trends(
    kb: KnowledgeBase, labs: Sequence[Lab], *, sex: str | None, pregnant: bool
) -> list[LabTrend]:
    from .labs import band_for

    out: list[LabTrend] = []
    for test_id in TREND_TESTS:
        series = [lab for lab in labs if lab.test == test_id]
        test = kb.lab_by_id.get(test_id)
        if not series or test is None:
            continue
        first, last = series[0], series[-1]
        latest_value = _canonical(kb, last)
        band, _ = band_for(test, latest_value, sex=sex or "female", pregnant=pregnant)
        out.append(
            LabTrend(
                test=test_id,
                name=test.name,
                unit=test.unit,
                first_date=first.date,
                first_value=_canonical(kb, first),
                latest_date=last.date,
                latest_value=latest_value,
                latest_band=band.label if band else None,
                n=len(series),
            )
        )
    return out
