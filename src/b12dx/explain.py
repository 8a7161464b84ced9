"""Why each cause got its probability: leave-one-out evidence contributions.

For every piece of evidence ``e`` (a finding present or absent, a lab result, a risk factor or a
medicine) and every cause ``j``, the contribution is
``logit P(C_j | E) - logit P(C_j | E without e)``: positive evidence argues for the cause,
negative against. All leave-one-out posteriors come from one batched engine call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import Context, Observation, encode, lab_findings
from .engine import FloatArray, infer, logit
from .priors import PriorShift
from .result import CauseResult, Contribution

__all__ = ["EvidencePiece", "differential", "pieces"]

# Contributions smaller than this (in log-odds, i.e. under half a percent change in the odds)
# are not listed: they would only be noise.
_SHOWN = 5e-3


@dataclass(frozen=True)
class EvidencePiece:
    key: str
    label: str
    state: str
    pos: frozenset[int]
    neg: frozenset[int]
    shifts: tuple[PriorShift, ...]
    lab_sources: tuple[str, ...] = ()


def pieces(ctx: Context, shifts: list[PriorShift]) -> list[EvidencePiece]:
    kb, net = ctx.kb, ctx.net
    out: list[EvidencePiece] = []
    for e in ctx.case.evidence:
        i = net.finding_index.get(e.id)
        if i is None or e.state == "unknown":
            continue
        f = kb.finding_by_id[e.id]
        out.append(
            EvidencePiece(
                e.id,
                f.name,
                e.state,
                frozenset({i}) if e.state == "present" else frozenset(),
                frozenset({i}) if e.state == "absent" else frozenset(),
                (),
            )
        )
    for r in ctx.readings:
        if r.band is None:
            continue
        pos, neg = lab_findings(net, r)
        out.append(
            EvidencePiece(
                f"lab:{r.test.id}:{r.band.id}",
                r.test.name,
                r.band.label,
                frozenset(pos),
                frozenset(neg),
                (),
                r.band.sources,
            )
        )
    by_owner: dict[str, list[PriorShift]] = {}
    for s in shifts:
        by_owner.setdefault(s.evidence, []).append(s)
    for owner, group in by_owner.items():
        if owner in kb.drug_class_by_id:
            label, state = kb.drug_class_by_id[owner].name, "taken"
        else:
            label, state = kb.risk_factor_by_id[owner].name, "present"
        out.append(EvidencePiece(owner, label, state, frozenset(), frozenset(), tuple(group)))
    return out


def _without(ctx: Context, piece: EvidencePiece) -> tuple[FloatArray, Observation]:
    prior = ctx.prior
    if piece.shifts:
        lg = logit(prior)
        live = prior > 0
        for s in piece.shifts:
            lg[ctx.net.cause_index[s.cause]] -= s.log_or
        prior = np.where(live, 1.0 / (1.0 + np.exp(-lg)), 0.0)
    return prior, ctx.observation.without(set(piece.pos), set(piece.neg))


def _sources(ctx: Context, piece: EvidencePiece, cause: str) -> list[str]:
    out: list[str] = list(piece.lab_sources)
    fids = [ctx.net.finding_ids[i] for i in (*piece.pos, *piece.neg)]
    links = ctx.net.link_sources
    direct = [links[(cause, f)] for f in fids if (cause, f) in links]
    if direct:
        for d in direct:
            out.extend(d)
    else:  # the effect is indirect (explaining away): cite the links that carry it
        for f in fids:
            out.extend(ctx.net.finding_sources.get(f, ()))
    own = [s for s in piece.shifts if s.cause == cause]
    for s in own or piece.shifts:
        out.extend(s.sources)
    return list(dict.fromkeys(out))


def differential(ctx: Context, shifts: list[PriorShift]) -> list[CauseResult]:
    kb, net = ctx.kb, ctx.net
    items = pieces(ctx, shifts)
    deltas = np.zeros((len(items), net.n_causes))
    if items:
        rows = [_without(ctx, p) for p in items]
        prior = np.stack([r[0] for r in rows])
        pos, neg = encode(net, [r[1] for r in rows])
        post, _ = infer(net, prior, pos, neg)
        deltas = logit(ctx.posterior)[None, :] - logit(post)
        deltas[:, ctx.prior == 0] = 0.0
    results = []
    order = np.argsort(-ctx.posterior, kind="stable")
    for j in order:
        if ctx.prior[j] == 0:
            continue
        cid = net.cause_ids[j]
        cause = kb.cause_by_id[cid]
        # built from validated KB data: skip re-validation (model_construct)
        contribs = [
            Contribution.model_construct(
                evidence=p.key,
                label=p.label,
                state=p.state,
                log_odds=round(float(deltas[k, j]), 4),
                sources=_sources(ctx, p, cid),
            )
            for k, p in enumerate(items)
            if abs(deltas[k, j]) >= _SHOWN
        ]
        contribs.sort(key=lambda c: -abs(c.log_odds))
        results.append(
            CauseResult.model_construct(
                id=cid,
                name=cause.name,
                lay_name=cause.lay_name,
                group=cause.group,
                probability=float(ctx.posterior[j]),
                prior=float(ctx.prior[j]),
                for_=[c for c in contribs if c.log_odds > 0],
                against=[c for c in contribs if c.log_odds < 0],
                confirm_with=cause.confirm_with,
            )
        )
    return results
