"""What should happen next: tests, treatment, monitoring, diet, prevention and the comparison.

Next tests combine the KB's guideline rules (which always come first) with the expected
information gain of each remaining orderable test over the differential. Treatment is chosen by
cause: the first KB option whose condition holds wins. Folic acid is never suggested alone while
B12 status is unknown.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from .context import Context, WhatIf, holds, result_outcomes
from .engine import FloatArray, IntArray
from .kb import Advice as KbAdvice
from .kb import KnowledgeBase, LabTest, TestRule
from .result import (
    Advice,
    ComparisonRow,
    DietFood,
    DietPlan,
    NextTest,
    TreatmentPlan,
    trusted,
    trusted_all,
)
from .variants import Variant

__all__ = [
    "RANKING_TOLERANCE",
    "comparison",
    "diet",
    "entropy",
    "expected_information_gain",
    "monitoring",
    "next_tests",
    "prevention",
    "ranking_request",
    "treatments",
]

_B12_TESTS = ("b12_total", "b12_active")
RANKING_TOLERANCE = 1e-6
Column = Literal["b12_deficiency", "electrolyte", "other", "mixed", "unknown"]


def entropy(post: FloatArray) -> FloatArray:
    """Sum of the causes' binary entropies in bits (rows: cases)."""
    p = np.clip(post, 1e-15, 1 - 1e-15)
    h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.asarray(np.where((post <= 0) | (post >= 1), 0.0, h).sum(axis=-1))


def _outcomes(ctx: Context, test: LabTest) -> list[tuple[int, ...]]:
    """Distinct observable outcomes of a test for this person, as finding indices present."""
    sex, preg = ctx.case.sex, ctx.case.pregnant
    return result_outcomes(ctx.net, [b for b in test.bands if b.applies_to(sex, preg)])


def _test_variants(
    ctx: Context, tests: list[LabTest]
) -> tuple[tuple[Variant, ...], tuple[tuple[str, int], ...]]:
    """Every outcome of every test as a variant of the evidence: its band's findings present (if
    any; ``Band.present``, the band's own and those it ``implies``) and the test's other band
    findings absent. Depends only on the KB, the tests and the
    person's sex and pregnancy, so it is cached."""
    key = (ctx.kb.sha256, tuple(t.id for t in tests), ctx.case.sex, ctx.case.pregnant)
    got = _variant_cache.get(key)
    if got is None:
        variants: list[Variant] = []
        index: list[tuple[str, int]] = []
        for t in tests:
            outs = _outcomes(ctx, t)
            if len(outs) < 2:
                continue
            all_f = {i for o in outs for i in o}
            for o in outs:
                index.append((t.id, len(variants)))
                variants.append(Variant(add_pos=o, add_neg=tuple(sorted(all_f - set(o)))))
        if len(_variant_cache) > 256:
            _variant_cache.clear()
        got = _variant_cache[key] = (tuple(variants), tuple(index))
    return got


_variant_cache: dict[tuple[object, ...], tuple[tuple[Variant, ...], tuple[tuple[str, int], ...]]]
_variant_cache = {}


def _candidates(ctx: Context) -> list[LabTest]:
    done = {r.test.id for r in ctx.readings}
    return [t for t in ctx.kb.labs if t.orderable and t.id not in done]


def _request(ctx: Context, tests: list[LabTest]) -> WhatIf | None:
    variants, index = _test_variants(ctx, tests)
    if not variants:
        return None
    # information gain only ranks tests (reported to 4 decimals): 1e-6 is ample, and each
    # outcome's posteriors matter only in proportion to its probability
    return WhatIf(variants, RANKING_TOLERANCE, _outcome_ids(index))


def ranking_request(ctx: Context) -> WhatIf | None:
    """The what-if posteriors ``next_tests`` will ask for (None: no test left to rank)."""
    return _request(ctx, _candidates(ctx))


def expected_information_gain(ctx: Context, tests: list[LabTest]) -> dict[str, float]:
    """EIG (bits) of each test over the differential, all outcomes from one shared table."""
    req = _request(ctx, tests)
    if req is None:
        return {}
    post, log_z = ctx.fetch([req])[0]
    _, index = _test_variants(ctx, tests)
    return _gains(float(entropy(ctx.posterior)), post, log_z, index)


@functools.lru_cache(maxsize=256)
def _outcome_ids(index: tuple[tuple[str, int], ...]) -> tuple[int, ...]:
    """The test (numbered in order) each outcome variant belongs to."""
    tests = {tid: g for g, tid in enumerate(dict.fromkeys(tid for tid, _ in index))}
    out = [0] * len(index)
    for tid, r in index:
        out[r] = tests[tid]
    return tuple(out)


def _gains(
    h0: float, post: FloatArray, log_z: FloatArray, index: tuple[tuple[str, int], ...]
) -> dict[str, float]:
    """Expected entropy after each test: outcomes weighted by their probability."""
    tests, order, starts, sizes = _outcome_layout(index)
    lz = log_z[order]
    top = np.maximum.reduceat(lz, starts)
    w = np.exp(lz - np.repeat(top, sizes))
    h = np.add.reduceat(w * entropy(post[order]), starts) / np.add.reduceat(w, starts)
    return {t: max(0.0, h0 - g) for t, g in zip(tests, h.tolist(), strict=True)}


@functools.lru_cache(maxsize=256)
def _outcome_layout(
    index: tuple[tuple[str, int], ...],
) -> tuple[tuple[str, ...], IntArray, IntArray, IntArray]:
    """The outcome variants grouped by test: the tests, the variants in test order, and each
    test's first position and number of outcomes (once per set of tests)."""
    rows: dict[str, list[int]] = {}
    for tid, r in index:
        rows.setdefault(tid, []).append(r)
    tests = tuple(rows)
    order = np.array([r for t in tests for r in rows[t]], dtype=np.int64)
    sizes = np.array([len(rows[t]) for t in tests], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    return tests, order, starts, sizes


def _by_priority(kb: KnowledgeBase) -> list[TestRule]:
    got = _rule_order.get(kb.sha256)
    if got is None:
        got = _rule_order[kb.sha256] = sorted(kb.plan.test_rules, key=lambda r: r.priority)
    return got


_rule_order: dict[str, list[TestRule]] = {}


def next_tests(ctx: Context) -> list[NextTest]:
    kb = ctx.kb
    done = {r.test.id for r in ctx.readings}
    gains = expected_information_gain(ctx, _candidates(ctx))
    out: list[NextTest] = []
    chosen: set[str] = set()
    for rule in _by_priority(kb):
        if not holds(rule.when, ctx):
            continue
        for tid in rule.tests:
            if tid in done or tid in chosen:
                continue
            test = kb.lab_by_id[tid]
            chosen.add(tid)
            out.append(
                trusted(
                    NextTest,
                    {
                        "test": tid,
                        "name": test.name,
                        "why": rule.why,
                        "rule": rule.id,
                        "expected_information_gain": round(float(gains.get(tid, 0.0)), 4),
                        "sources": list(rule.sources),
                    },
                )
            )
    floor = kb.plan.min_information_gain.value
    ranked = sorted(((g, tid) for tid, g in gains.items() if tid not in chosen), reverse=True)
    for g, tid in ranked:
        if g < floor:
            break
        test = kb.lab_by_id[tid]
        why = test.why or f"{test.name} would change the differential the most."
        out.append(
            trusted(
                NextTest,
                {
                    "test": tid,
                    "name": test.name,
                    "why": why,
                    "rule": None,
                    "expected_information_gain": round(float(g), 4),
                    "sources": list(
                        dict.fromkeys((*test.sources, *kb.plan.min_information_gain.sources))
                    ),
                },
            )
        )
    return out


def _b12_status_known(ctx: Context) -> bool:
    return any(ctx.has_lab(t) for t in _B12_TESTS)


def treatments(ctx: Context) -> tuple[list[TreatmentPlan], list[Advice]]:
    """Applicable treatment plans (most probable cause first) and plan-level warnings."""
    kb = ctx.kb
    threshold = kb.plan.treat_threshold.value
    plans: list[tuple[float, TreatmentPlan]] = []
    warnings: list[KbAdvice] = []
    for tr in kb.plan.treatments:
        p = ctx.probability(tr.cause)
        applies = holds(tr.applies_when, ctx) or (ctx.top_cause == tr.cause and p >= threshold)
        if not applies:
            continue
        cause = kb.cause_by_id[tr.cause]
        if cause.id == "folate_deficiency" and not _b12_status_known(ctx):
            # Folic acid alone can mask B12 deficiency while nerve damage goes on.
            warnings.append(kb.plan.never_folate_alone.model_copy())
            continue
        option = next((o for o in tr.options if holds(o.when, ctx)), None)
        if option is None:
            continue
        plans.append(
            (
                p,
                TreatmentPlan(
                    cause=tr.cause,
                    option=option.id,
                    route=option.route,
                    regimen=option.regimen,
                    why=option.why,
                    lifelong=option.lifelong,
                    monitoring=list(option.monitoring),
                    warnings=list(option.warnings),
                    sources=list(option.sources),
                ),
            )
        )
    plans.sort(key=lambda pt: -pt[0])
    return [p for _, p in plans], [_advice(a) for a in warnings]


def _advice(a: KbAdvice) -> Advice:
    return trusted(Advice, {"id": a.id, "text": a.text, "sources": list(a.sources)})


def scope(ctx: Context) -> list[Advice]:
    """A note when the case records none of the muscle complaints b12dx is built for."""
    note = ctx.kb.plan.no_muscle_complaint
    return [_advice(note)] if note is not None and holds(note.when, ctx) else []


def monitoring(ctx: Context) -> list[Advice]:
    return [_advice(a) for a in ctx.kb.plan.monitoring if holds(a.when, ctx)]


def prevention(ctx: Context) -> list[Advice]:
    return [_advice(a) for a in ctx.kb.plan.prevention if holds(a.when, ctx)]


def diet(ctx: Context) -> DietPlan | None:
    d = ctx.kb.plan.diet
    if not holds(d.applies_when, ctx):
        return None
    case = ctx.case
    stage = "pregnancy" if case.pregnant else "lactation" if case.breastfeeding else "adult"
    rda = next(r for r in d.rda if r.life_stage == stage)
    kind = (
        "vegan"
        if "vegan_diet" in ctx.present
        else "vegetarian"
        if "vegetarian_diet" in ctx.present
        else "omnivore"
    )
    foods = sorted(
        (f for f in d.foods if kind in f.diets and f.value > 0),
        key=lambda f: (-f.fortified if kind != "omnivore" else 0, -f.value),
    )
    items = trusted_all(
        DietFood,
        [
            {
                "name": f.name,
                "serving": f.serving,
                "ug": float(f.value),
                "fortified": bool(f.fortified),
                "servings_to_target": round(float(rda.value) / f.value, 2),
                "sources": list(f.sources),
            }
            for f in foods
        ],
    )
    supplement = d.supplement_text if kind != "omnivore" else None
    sources = list(
        dict.fromkeys((*rda.sources, *(d.supplement_advice.sources if supplement else ())))
    )
    return DietPlan(
        target_ug_per_day=rda.value,
        life_stage=stage,
        diet=kind,
        foods=items,
        supplement=supplement,
        sources=sources,
    )


def comparison(ctx: Context) -> list[ComparisonRow]:
    bands = {f"{r.test.id}:{r.band.id}" for r in ctx.readings if r.band is not None}
    top = ctx.top_cause

    def matched(refs: tuple[str, ...]) -> list[str]:
        return [r for r in refs if r in ctx.present or r in bands or r == top]

    rows = []
    for row in ctx.kb.plan.comparison:
        hits: dict[Column, list[str]] = {
            "b12_deficiency": matched(row.matches_b12),
            "electrolyte": matched(row.matches_electrolyte),
            "other": matched(row.matches_other),
        }
        cols: list[Column] = [c for c, h in hits.items() if h]
        this: Column = cols[0] if len(cols) == 1 else ("mixed" if cols else "unknown")
        rows.append(
            trusted(
                ComparisonRow,
                {
                    "feature": row.feature,
                    "b12_deficiency": row.b12_deficiency,
                    "electrolyte": row.electrolyte,
                    "other": row.other,
                    "this_person": this,
                    "matched": [m for h in hits.values() for m in h],
                    "sources": list(row.sources),
                },
            )
        )
    return rows
