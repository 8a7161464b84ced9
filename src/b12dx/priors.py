"""Per-person cause priors: base prior by age, sex and pregnancy, shifted by odds ratios.

``logit p_j = logit base_j(age, sex, pregnancy) + sum_k log OR_jk * x_k`` over the risk factors
and drug classes present. A cause with ``requires_any`` has prior 0 unless one of those is
present (statin myopathy needs a statin).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .engine import FloatArray, Network
from .kb import Cause, Effect, KnowledgeBase, PriorEntry

__all__ = ["PriorShift", "base_prior", "effect_log_or", "person_prior"]


def base_prior(cause: Cause, *, age: float, sex: str, pregnant: bool) -> PriorEntry:
    for entry in cause.prior:
        if entry.age_from is not None and age < entry.age_from:
            continue
        if entry.age_to is not None and age >= entry.age_to:
            continue
        if entry.sex not in ("any", sex):
            continue
        if entry.pregnant is not None and entry.pregnant != pregnant:
            continue
        return entry
    return cause.prior[-1]


def effect_log_or(effect: Effect, years: float | None) -> float:
    """log OR contributed by one effect at the given exposure (None: exposure not stated)."""
    if years is None:
        years = effect.default_years
    if effect.min_years is not None and (years is None or years < effect.min_years):
        return 0.0
    log_or = math.log(effect.value)
    if effect.per_year:
        exposure = years if years is not None else 1.0
        if effect.cap_years is not None:
            exposure = min(exposure, effect.cap_years)
        return log_or * exposure
    return log_or


@dataclass(frozen=True)
class PriorShift:
    """One risk factor's or drug's effect on one cause, for explanations."""

    evidence: str
    cause: str
    log_or: float
    sources: tuple[str, ...]


def person_prior(
    kb: KnowledgeBase,
    net: Network,
    *,
    age: float,
    sex: str,
    pregnant: bool,
    present: set[str],
    drug_years: Mapping[str, float | None],
) -> tuple[FloatArray, list[PriorShift], FloatArray]:
    """Priors (n,), the shifts applied, and the base priors before shifting."""
    n = net.n_causes
    base = np.zeros(n)
    for j, cid in enumerate(net.cause_ids):
        cause = kb.cause_by_id[cid]
        if cause.requires_any and not any(
            r in present or r in drug_years for r in cause.requires_any
        ):
            continue
        base[j] = base_prior(cause, age=age, sex=sex, pregnant=pregnant).value
    shifts: list[PriorShift] = []
    for rid in sorted(present):
        rf = kb.risk_factor_by_id.get(rid)
        if rf is None:
            continue
        for e in rf.effects:
            lo = effect_log_or(e, None)
            if lo:
                shifts.append(PriorShift(rid, e.cause, lo, e.sources))
    for cid, years in sorted(drug_years.items()):
        for e in kb.drug_class_by_id[cid].effects:
            lo = effect_log_or(e, years)
            if lo:
                shifts.append(PriorShift(cid, e.cause, lo, e.sources))
    logits = np.full(n, -np.inf)
    live = base > 0
    logits[live] = np.log(base[live]) - np.log1p(-base[live])
    for s in shifts:
        logits[net.cause_index[s.cause]] += s.log_or
    prior = np.where(live, 1.0 / (1.0 + np.exp(-np.where(live, logits, 0.0))), 0.0)
    return prior, shifts, base
