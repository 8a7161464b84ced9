"""``assess()``: the single place where an assessment is made.

Every front end (CLI, service, interview, screening's per-row reference) calls this function.
It normalises the case against the knowledge base, computes exact posteriors, explains them,
triages, and plans the next steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import explain, plan, triage
from .case import Case, normalise, parse_case
from .context import Context, WhatIf, observe
from .engine import compile_network
from .kb import KnowledgeBase, load_kb
from .labs import LabReading, interpret
from .priors import PriorShift, person_prior
from .result import Advice, Assessment, KbStamp, LabInterpretation, SourceRef, trusted
from .variants import Variant

__all__ = ["assess", "assess_with_context", "build_context"]


Prefetch = Callable[[Context, list[PriorShift]], Sequence[WhatIf]]


def build_context(
    case: Case, kb: KnowledgeBase, *, prefetch: Prefetch | None = None
) -> tuple[Context, list[PriorShift]]:
    """Posteriors and everything rules need, for an already normalised case.

    ``prefetch`` names the what-if questions the caller will ask (``Context.what_if``); they are
    answered in the same engine call as the person's own posteriors, from one subset table. It
    sees the context before its posteriors are filled in, so it must not read them.
    """
    net = compile_network(kb)
    readings = interpret(case.labs, kb, sex=case.sex, pregnant=case.pregnant)
    drug_years = {m.drug_class: m.years for m in case.medications if m.drug_class}
    present = case.present() | set(drug_years)
    prior, shifts, _ = person_prior(
        kb,
        net,
        age=case.age,
        sex=case.sex,
        pregnant=case.pregnant,
        present=present,
        drug_years=drug_years,
    )
    obs = observe(case, net, readings)
    tags: set[str] = set()
    for e in present:
        tags |= kb.tags_of.get(e, frozenset())
    ctx = Context(
        kb=kb,
        net=net,
        case=case,
        readings=readings,
        present=frozenset(present),
        absent=frozenset(case.absent()),
        drug_years=drug_years,
        prior=prior,
        posterior=np.full(net.n_causes, np.nan),  # filled in below
        observation=obs,
        tags=frozenset(tags),
    )
    own = WhatIf((Variant(),), exact_log_z=False)
    asked = prefetch(ctx, shifts) if prefetch is not None else ()
    ctx.posterior = ctx.fetch([own, *asked])[0][0][0]
    return ctx, shifts


def _lab_out(r: LabReading) -> LabInterpretation:
    band = r.band
    text = (
        band.text if band is not None else f"No guideline band applies to this {r.test.name} value."
    )
    return trusted(
        LabInterpretation,
        {
            "test": r.test.id,
            "name": r.test.name,
            "value": round(r.value, 6),
            "unit": r.test.unit,
            "band": band.id if band else None,
            "band_label": band.label if band else None,
            "abnormal": bool(band and band.abnormal),
            "text": text,
            "original_value": r.original_value,
            "original_unit": r.original_unit,
            "reference": "local" if r.local_range_used else ("guideline" if band else "none"),
            "derived": r.derived,
            "sources": list(band.sources if band else r.test.sources),
        },
    )


def _used_sources(body: dict[str, Any]) -> dict[str, None]:
    """Every source id cited in the assessment, in order of first use."""
    groups: list[Sequence[str]] = [r.sources for r in body["triage"].reasons]
    for c in body["differential"]:
        groups += [item.sources for item in c.for_]
        groups += [item.sources for item in c.against]
    for group in (
        "labs",
        "next_tests",
        "other_treatments",
        "monitoring",
        "prevention",
        "comparison",
        "warnings",
    ):
        groups += [item.sources for item in body[group]]
    if body["treatment"] is not None:
        groups.append(body["treatment"].sources)
    if body["diet"] is not None:
        groups.append(body["diet"].sources)
        groups += [f.sources for f in body["diet"].foods]
    return dict.fromkeys(itertools.chain.from_iterable(groups))


_refs: dict[str, dict[str, SourceRef]] = {}


def _source_refs(kb: KnowledgeBase) -> dict[str, SourceRef]:
    refs = _refs.get(kb.sha256)
    if refs is None:
        refs = _refs[kb.sha256] = {
            s.id: SourceRef(
                id=s.id, title=s.title, body=s.body, year=s.year, url=s.url, note=s.note
            )
            for s in kb.sources
        }
    return refs


def _asked(ctx: Context, shifts: list[PriorShift]) -> list[WhatIf]:
    """What the explanation and the next-test ranking will ask of the engine."""
    return [r for r in (explain.request(ctx, shifts), plan.ranking_request(ctx)) if r is not None]


def assess(case: Case | Mapping[str, Any], *, kb: KnowledgeBase | None = None) -> Assessment:
    """Assess one person: triage, differential, labs, next tests, treatment, diet, sources.

    *case* is a ``Case`` or plain data in the ``b12dx/case/v1`` shape. Raises an ``InputError``
    subclass (with a message saying what is wrong and what is accepted) for bad input.
    """
    return assess_with_context(case, kb=kb)[0]


def assess_with_context(
    case: Case | Mapping[str, Any], *, kb: KnowledgeBase | None = None
) -> tuple[Assessment, Context]:
    """``assess()`` and the context it was made from (the normalised case, posteriors and the
    engine answers already computed), for callers that ask further what-if questions."""
    from . import __version__

    kb = kb if kb is not None else load_kb()
    parsed = case if isinstance(case, Case) else parse_case(case)
    norm = normalise(parsed, kb)
    ctx, shifts = build_context(norm, kb, prefetch=_asked)

    treatments, treat_warnings = plan.treatments(ctx)
    monitoring = plan.monitoring(ctx)
    for t in treatments[:1]:
        seen = {m.text for m in monitoring}
        monitoring = monitoring + [
            m
            for m in (
                Advice(id=f"{t.option}:{i}", text=text, sources=t.sources)
                for i, text in enumerate(t.monitoring)
            )
            if m.text not in seen
        ]
    body: dict[str, Any] = {
        "case_id": norm.id,
        "case": norm,
        "triage": triage.decide(ctx),
        "differential": explain.differential(ctx, shifts),
        "labs": [_lab_out(r) for r in ctx.readings],
        "next_tests": plan.next_tests(ctx),
        "treatment": treatments[0] if treatments else None,
        "other_treatments": treatments[1:],
        "monitoring": monitoring,
        "diet": plan.diet(ctx),
        "prevention": plan.prevention(ctx),
        "comparison": plan.comparison(ctx),
        "warnings": plan.scope(ctx) + treat_warnings,
        "disclaimer": kb.meta.disclaimer,
    }
    refs = _source_refs(kb)
    body["sources"] = [refs[s] for s in _used_sources(body) if s in refs]
    body["kb"] = KbStamp(version=kb.version, sha256=kb.sha256)
    body["b12dx_version"] = __version__
    return Assessment(**body), ctx


def posterior_of(
    case: Case | Mapping[str, Any], *, kb: KnowledgeBase | None = None
) -> dict[str, float]:
    """Just the posteriors (used by tests and benchmarks)."""
    kb = kb if kb is not None else load_kb()
    parsed = case if isinstance(case, Case) else parse_case(case)
    ctx, _ = build_context(normalise(parsed, kb), kb)
    return {c: float(p) for c, p in zip(ctx.net.cause_ids, np.asarray(ctx.posterior), strict=True)}
