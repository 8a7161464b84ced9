"""Why each cause got its probability: leave-one-out evidence contributions.

For every piece of evidence ``e`` (a finding present or absent, a lab result, a risk factor or a
medicine) and every cause ``j``, the contribution is
``logit P(C_j | E) - logit P(C_j | E without e)``: positive evidence argues for the cause,
negative against. All leave-one-out posteriors come from one batched engine call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from .context import Context, WhatIf, lab_findings
from .engine import TOLERANCE as ENGINE_TOLERANCE
from .engine import logit
from .priors import PriorShift
from .result import CauseResult, Contribution, trusted, trusted_all
from .variants import Variant

__all__ = [
    "LOGIT_TOLERANCE",
    "TOLERANCE",
    "EvidencePiece",
    "differential",
    "pieces",
    "request",
]

# Leave-one-out posteriors are exact to the engine's tolerance, like the posteriors themselves, or
# (where that is looser: probable causes) their log-odds to LOGIT_TOLERANCE, well inside the
# 4 decimals contributions are reported to.
TOLERANCE = ENGINE_TOLERANCE
LOGIT_TOLERANCE = 1e-6

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
    """Every piece of evidence that can be left out (remembered on the context: the
    explanation's engine request and the explanation itself both need them)."""
    key = ("pieces", tuple(shifts))
    got = ctx.memo.get(key)
    if got is None:
        got = ctx.memo[key] = _pieces(ctx, shifts)
    return cast(list[EvidencePiece], got)


def _pieces(ctx: Context, shifts: list[PriorShift]) -> list[EvidencePiece]:
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


def _without(ctx: Context, piece: EvidencePiece) -> Variant:
    """The variant that leaves ``piece`` out. Depends only on the KB and the piece (pieces
    recur across people), so it is cached."""
    key = (ctx.kb.sha256, piece)
    got = _without_cache.get(key)
    if got is None:
        shift: dict[int, float] = {}
        for s in piece.shifts:
            j = ctx.net.cause_index[s.cause]
            shift[j] = shift.get(j, 0.0) - s.log_or
        got = Variant(
            drop_pos=tuple(sorted(piece.pos)),
            drop_neg=tuple(sorted(piece.neg)),
            shift=tuple(shift.items()),
        )
        if len(_without_cache) > 4096:
            _without_cache.clear()
        _without_cache[key] = got
    return got


_without_cache: dict[tuple[str, EvidencePiece], Variant] = {}


def _sources(ctx: Context, piece: EvidencePiece) -> dict[str, list[str]]:
    """The sources of a piece's effect on each cause (by cause id). Depends only on the KB and
    the piece, so it is cached."""
    key = (ctx.kb.sha256, piece)
    got = _source_cache.get(key)
    if got is not None:
        return got
    links = ctx.net.link_sources
    fids = [ctx.net.finding_ids[i] for i in (*piece.pos, *piece.neg)]
    # the effect is indirect (explaining away): cite the links that carry it
    indirect = [s for f in fids for s in ctx.net.finding_sources.get(f, ())]
    shifted = [s for sh in piece.shifts for s in sh.sources]
    out: dict[str, list[str]] = {}
    for cid in ctx.net.cause_ids:
        direct = [s for f in fids for s in links.get((cid, f), ())]
        own = [s for sh in piece.shifts if sh.cause == cid for s in sh.sources]
        out[cid] = list(
            dict.fromkeys((*piece.lab_sources, *(direct or indirect), *(own or shifted)))
        )
    if len(_source_cache) > 4096:
        _source_cache.clear()
    _source_cache[key] = out
    return out


_source_cache: dict[tuple[str, EvidencePiece], dict[str, list[str]]] = {}


def _request(ctx: Context, items: list[EvidencePiece]) -> WhatIf:
    key = ("leave-one-out", tuple(items))
    got = ctx.memo.get(key)
    if got is None:
        got = ctx.memo[key] = WhatIf(
            tuple(_without(ctx, p) for p in items),
            TOLERANCE,
            exact_log_z=False,
            logit_tolerance=LOGIT_TOLERANCE,
        )
    return cast(WhatIf, got)


def request(ctx: Context, shifts: list[PriorShift]) -> WhatIf | None:
    """The leave-one-out posteriors ``differential`` will ask for (None: no evidence)."""
    items = pieces(ctx, shifts)
    return _request(ctx, items) if items else None


def differential(ctx: Context, shifts: list[PriorShift]) -> list[CauseResult]:
    kb, net = ctx.kb, ctx.net
    items = pieces(ctx, shifts)
    deltas = np.zeros((len(items), net.n_causes))
    if items:
        post, _ = ctx.fetch([_request(ctx, items)])[0]
        deltas = logit(ctx.posterior)[None, :] - logit(post)
        deltas[:, ctx.prior == 0] = 0.0
    rounded = np.round(deltas, 4)
    # shown (piece, cause) pairs, by cause, for before against (shown values are at least
    # _SHOWN in size: never 0), then largest effect first, then evidence order
    ks, js = np.nonzero(np.abs(deltas) >= _SHOWN)
    shown = rounded[ks, js]
    side = shown < 0
    order = np.lexsort((ks, -np.abs(shown), side, js))
    ks, js, side = ks[order], js[order], side[order]
    values = shown[order].tolist()
    sources = {k: _sources(ctx, items[k]) for k in set(ks.tolist())}
    keys, labels = [p.key for p in items], [p.label for p in items]
    states = [p.state for p in items]
    cause_ids = net.cause_ids
    made = trusted_all(
        Contribution,
        [
            {
                "evidence": keys[k],
                "label": labels[k],
                "state": states[k],
                "log_odds": lo,
                "sources": list(sources[k][cause_ids[j]]),
            }
            for k, j, lo in zip(ks.tolist(), js.tolist(), values, strict=True)
        ],
    )
    # each (cause, side) is one run of the sorted contributions
    group = js * 2 + side
    change = np.ones(group.size, dtype=np.bool_)
    change[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(change)
    ends = np.empty_like(starts)
    ends[:-1], ends[-1:] = starts[1:], group.size
    by_cause: dict[int, tuple[list[Contribution], list[Contribution]]] = {}
    for a, b, g in zip(starts.tolist(), ends.tolist(), group[starts].tolist(), strict=True):
        by_cause.setdefault(g // 2, ([], []))[g % 2].extend(made[a:b])
    results = []
    for j in np.argsort(-ctx.posterior, kind="stable").tolist():
        if ctx.prior[j] == 0:
            continue
        cause = kb.cause_by_id[net.cause_ids[j]]
        for_, against = by_cause.get(j, ([], []))
        results.append(
            trusted(
                CauseResult,
                {
                    "id": cause.id,
                    "name": cause.name,
                    "lay_name": cause.lay_name,
                    "group": cause.group,
                    "probability": float(ctx.posterior[j]),
                    "prior": float(ctx.prior[j]),
                    "for_": for_,
                    "against": against,
                    "confirm_with": cause.confirm_with,
                },
            )
        )
    return results
