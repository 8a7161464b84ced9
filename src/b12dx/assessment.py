"""``assess()``: the single place where an assessment is made.

Every front end (CLI, service, interview, screening's per-row reference) calls this function.
It normalises the case against the knowledge base, computes exact posteriors, explains them,
triages, and plans the next steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import explain, plan, triage
from .case import Case, normalise, parse_case
from .context import Context, encode, observe
from .engine import compile_network, infer
from .kb import KnowledgeBase, load_kb
from .labs import LabReading, interpret
from .priors import PriorShift, person_prior
from .result import Advice, Assessment, KbStamp, LabInterpretation, SourceRef

__all__ = ["assess", "build_context"]


def build_context(case: Case, kb: KnowledgeBase) -> tuple[Context, list[PriorShift]]:
    """Posteriors and everything rules need, for an already normalised case."""
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
    pos, neg = encode(net, [obs])
    post, _ = infer(net, prior[None, :], pos, neg, exact_log_z=False)
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
        posterior=post[0],
        observation=obs,
        tags=frozenset(tags),
    )
    return ctx, shifts


def _lab_out(r: LabReading) -> LabInterpretation:
    band = r.band
    text = (
        band.text if band is not None else f"No guideline band applies to this {r.test.name} value."
    )
    return LabInterpretation(
        test=r.test.id,
        name=r.test.name,
        value=round(r.value, 6),
        unit=r.test.unit,
        band=band.id if band else None,
        band_label=band.label if band else None,
        abnormal=bool(band and band.abnormal),
        text=text,
        original_value=r.original_value,
        original_unit=r.original_unit,
        reference="local" if r.local_range_used else ("guideline" if band else "none"),
        derived=r.derived,
        sources=list(band.sources if band else r.test.sources),
    )


def _used_sources(body: dict[str, Any]) -> dict[str, None]:
    """Every source id cited in the assessment, in order of first use."""
    acc: dict[str, None] = {}
    add = acc.update

    for r in body["triage"].reasons:
        add(dict.fromkeys(r.sources))
    for c in body["differential"]:
        for item in (*c.for_, *c.against):
            add(dict.fromkeys(item.sources))
    for group in (
        "labs",
        "next_tests",
        "other_treatments",
        "monitoring",
        "prevention",
        "comparison",
        "warnings",
    ):
        for item in body[group]:
            add(dict.fromkeys(item.sources))
    if body["treatment"] is not None:
        add(dict.fromkeys(body["treatment"].sources))
    if body["diet"] is not None:
        add(dict.fromkeys(body["diet"].sources))
        for f in body["diet"].foods:
            add(dict.fromkeys(f.sources))
    return acc


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


def assess(case: Case | Mapping[str, Any], *, kb: KnowledgeBase | None = None) -> Assessment:
    """Assess one person: triage, differential, labs, next tests, treatment, diet, sources.

    *case* is a ``Case`` or plain data in the ``b12dx/case/v1`` shape. Raises an ``InputError``
    subclass (with a message saying what is wrong and what is accepted) for bad input.
    """
    from . import __version__

    kb = kb if kb is not None else load_kb()
    parsed = case if isinstance(case, Case) else parse_case(case)
    norm = normalise(parsed, kb)
    ctx, shifts = build_context(norm, kb)

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
        "warnings": treat_warnings,
        "disclaimer": kb.meta.disclaimer,
    }
    refs = _source_refs(kb)
    body["sources"] = [refs[s] for s in _used_sources(body) if s in refs]
    body["kb"] = KbStamp(version=kb.version, sha256=kb.sha256)
    body["b12dx_version"] = __version__
    return Assessment(**body)


def posterior_of(
    case: Case | Mapping[str, Any], *, kb: KnowledgeBase | None = None
) -> dict[str, float]:
    """Just the posteriors (used by tests and benchmarks)."""
    kb = kb if kb is not None else load_kb()
    parsed = case if isinstance(case, Case) else parse_case(case)
    ctx, _ = build_context(normalise(parsed, kb), kb)
    return {c: float(p) for c, p in zip(ctx.net.cause_ids, np.asarray(ctx.posterior), strict=True)}
