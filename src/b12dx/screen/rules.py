"""Screening flags: guideline prompts per person, defined in ``knowledge/screen.toml``.

A flag fires when every condition in ``when`` holds (each is a KB ``Condition``, read with the
semantics of ``b12dx.context.holds``) and, when given, the drug-exposure and lab-recency tests
hold too. Like the KB, every number carries its sources and evidence level; the file is package
data read by this module, and checked against the KB on load (unknown ids fail loudly).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..context import Context, holds
from ..errors import Issue, KnowledgeBaseError
from ..kb import Condition, KnowledgeBase, Num, Provenance

__all__ = [
    "DrugExposure",
    "FlagRule",
    "LabRecency",
    "ReportConfig",
    "ScreenRules",
    "flag_fires",
    "load_rules",
    "recency_holds",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DrugExposure(_Model):
    """Taking any of ``drugs`` for at least ``years`` (stated duration)."""

    drugs: tuple[str, ...] = Field(min_length=1)
    years: Num


class LabRecency(_Model):
    """No result of ``tests`` dated within ``days`` before the row's index date.

    A result without a date cannot show that it is old, so it counts as recent: the flag only
    fires on what the dates show ("when dates are present").
    """

    tests: tuple[str, ...] = Field(min_length=1)
    days: Num


class FlagRule(Provenance):
    id: str
    label: str
    text: str
    when: tuple[Condition, ...] = ()
    exposure: DrugExposure | None = None
    no_recent_lab: LabRecency | None = None


class ReportConfig(_Model):
    """How the HTML report groups people (presentation choices, not clinical claims)."""

    focus_cause: str
    age_bands: tuple[float, ...] = Field(min_length=1)  # lower edges, ascending
    diet: tuple[str, ...] = ()  # evidence ids shown as diet groups (first present wins)
    urgent_levels: tuple[str, ...] = ()


class ScreenRules(_Model):
    version: str
    flags: tuple[FlagRule, ...] = Field(alias="flag")
    report: ReportConfig
    sha256: str = ""


def recency_holds(rule: LabRecency, dates: dict[str, dt.date | None], as_of: dt.date) -> bool:
    """Scalar form: no result of the rule's tests within the window (``dates``: tests done)."""
    for test in rule.tests:
        if test not in dates:
            continue
        d = dates[test]
        if d is None or (as_of - d).days <= rule.days.value:
            return False
    return True


def flag_fires(rule: FlagRule, ctx: Context, as_of: dt.date) -> bool:
    """The scalar definition of a flag for one assessed person (the kernel's reference)."""
    if not all(holds(c, ctx) for c in rule.when):
        return False
    if rule.exposure is not None:
        need = rule.exposure.years.value
        if not any(
            (y := ctx.drug_years.get(d)) is not None and y >= need
            for d in rule.exposure.drugs
            if d in ctx.drug_years
        ):
            return False
    if rule.no_recent_lab is not None:
        dates = {lab.test: lab.date for lab in ctx.case.labs if lab.test is not None}
        if not recency_holds(rule.no_recent_lab, dates, as_of):
            return False
    return True


def _check(rules: ScreenRules, kb: KnowledgeBase) -> list[Issue]:
    issues: list[Issue] = []
    evidence = set(kb.evidence_ids) | set(kb.drug_class_by_id)
    bands = {f"{t.id}:{b.id}" for t in kb.labs for b in t.bands}
    tags = set().union(*kb.tags_of.values()) if kb.tags_of else set()
    ids: set[str] = set()
    for f in rules.flags:
        where = f"screen.toml flag({f.id})"
        if f.id in ids:
            issues.append(Issue(where, "duplicate flag id"))
        ids.add(f.id)
        for s in f.sources:
            if s not in kb.source_by_id:
                issues.append(Issue(where, f"unknown source {s!r}"))
        for cond in f.when:
            for e in (*cond.all_of, *cond.any_of, *cond.none_of):
                if e not in evidence:
                    issues.append(Issue(where, f"unknown evidence id {e!r}"))
            for t in (*cond.tags_any, *cond.tags_all):
                if t not in tags:
                    issues.append(Issue(where, f"no evidence carries tag {t!r}"))
            for lc in (*cond.labs_any, *cond.labs_all):
                for b in lc.bands:
                    if f"{lc.test}:{b}" not in bands:
                        issues.append(Issue(where, f"unknown lab band {lc.test}:{b}"))
            for t_id in (*cond.labs_missing, *cond.labs_present):
                if t_id not in kb.lab_by_id:
                    issues.append(Issue(where, f"unknown lab test {t_id!r}"))
            for cc in cond.causes_any:
                if cc.cause not in kb.cause_by_id:
                    issues.append(Issue(where, f"unknown cause {cc.cause!r}"))
            for c in cond.top_cause_in:
                if c not in kb.cause_by_id:
                    issues.append(Issue(where, f"unknown cause {c!r}"))
        if f.exposure is not None:
            for d in f.exposure.drugs:
                if d not in kb.drug_class_by_id:
                    issues.append(Issue(where, f"unknown drug class {d!r}"))
        if f.no_recent_lab is not None:
            for t_id in f.no_recent_lab.tests:
                if t_id not in kb.lab_by_id:
                    issues.append(Issue(where, f"unknown lab test {t_id!r}"))
    rep = rules.report
    if rep.focus_cause not in kb.cause_by_id:
        issues.append(Issue("screen.toml report", f"unknown cause {rep.focus_cause!r}"))
    for e in rep.diet:
        if e not in evidence:
            issues.append(Issue("screen.toml report", f"unknown evidence id {e!r}"))
    if list(rep.age_bands) != sorted(rep.age_bands):
        issues.append(Issue("screen.toml report", "age_bands must be ascending"))
    return issues


def load_rules(kb: KnowledgeBase, text: str | None = None) -> ScreenRules:
    """The packaged screening flags (or *text*), checked against *kb*."""
    if text is None:
        text = resources.files("b12dx.knowledge").joinpath("screen.toml").read_text("utf-8")
    key = (kb.sha256 or str(id(kb)), hashlib.sha256(text.encode()).hexdigest())
    got = _cache.get(key)
    if got is None:
        got = _cache[key] = _load(kb, text)
    return got


_cache: dict[tuple[str, str], ScreenRules] = {}


def _load(kb: KnowledgeBase, text: str) -> ScreenRules:
    try:
        data = tomllib.loads(text)
        rules = ScreenRules.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeBaseError([Issue("screen.toml", f"not valid TOML: {exc}")]) from None
    except ValidationError as exc:
        raise KnowledgeBaseError(
            [
                Issue("screen.toml " + ".".join(str(p) for p in e["loc"]), e["msg"])
                for e in exc.errors()
            ]
        ) from None
    problems = _check(rules, kb)
    if problems:
        raise KnowledgeBaseError(problems)
    sha = hashlib.sha256(text.encode()).hexdigest()
    return rules.model_copy(update={"sha256": sha})
