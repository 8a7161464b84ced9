"""Exact posteriors for many small variations of the same evidence, from one shared table.

The plan asks "what if this test came back low, normal or high?" for every orderable test, and
the explanation asks "what if this piece of evidence were missing?" for every piece. Each answer
is an ``engine.infer`` call on a slightly changed row, and each such call would redo a Quickscore
sum over the ``2^k`` subsets of the present findings for every cause.

A variation touches only a few causes: the parents of the findings it adds or removes, and the
causes whose prior it shifts. So the per-subset, per-cause factors of the unchanged row are
computed once and each variant only recomputes the factors of its own causes:

* a finding observed absent multiplies ``prod(1 - q)`` of its parents (a shift of their
  log-factors);
* an extra present finding ``b`` follows from ``P(E, b+) = P(E) - P(E, b-)``, two sums over the
  same subsets;
* a dropped present finding removes the subsets that contain it;
* a prior shift changes one cause's factor.

The result equals ``engine.infer`` on the explicitly changed rows: every variant carries the same
rounding bound as ``infer``; rows whose bound fails are redone in extended precision and, if that
still fails, by ``infer`` itself (which has the exact fallbacks).
"""

from __future__ import annotations

import dataclasses
import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .engine import (
    _MAX_CLAMPED,
    _NEUTRAL,
    TOLERANCE,
    BoolArray,
    FloatArray,
    IntArray,
    Network,
    clamp_choice,
    infer,
    padded_present,
    subset_masks,
)

__all__ = ["Variant", "infer_variants"]

# Conditioning first tries at most this many clamped causes (2^this inner rows).
_FEW_CLAMPED = 6

# Elements of the largest (rows x subsets x variants x causes) intermediate per kernel call.
_BUDGET = 1 << 22


@dataclass(frozen=True)
class Variant:
    """A change to every row's evidence (set semantics, like ``Observation.plus/without``).

    ``add_pos``/``add_neg``: findings observed present/absent in addition (already observed ones
    are not counted twice); ``drop_pos``/``drop_neg``: observations removed (where the row has
    them); ``shift``: ``(cause, delta)`` pairs added to the logit of a cause's prior (causes with
    prior 0 stay at 0).
    """

    add_pos: tuple[int, ...] = ()
    add_neg: tuple[int, ...] = ()
    drop_pos: tuple[int, ...] = ()
    drop_neg: tuple[int, ...] = ()
    shift: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        if set(self.add_pos) & set(self.drop_pos) or set(self.add_neg) & set(self.drop_neg):
            raise ValueError("a variant cannot both add and drop the same observation")

    def apply(
        self, prior: FloatArray, pos: IntArray, neg: BoolArray
    ) -> tuple[FloatArray, IntArray, BoolArray]:
        """The explicitly changed row (the definition the fast path is tested against)."""
        present = [int(i) for i in pos if i >= 0 and int(i) not in self.drop_pos]
        present += [i for i in self.add_pos if i not in present]
        new_neg = neg.copy()
        new_neg[list(self.drop_neg)] = False
        new_neg[list(self.add_neg)] = True
        new_prior = prior.copy()
        if self.shift:
            delta = np.zeros_like(prior)
            for j, d in self.shift:
                delta[j] += d
            touched = (delta != 0) & (prior > 0)
            lg = np.log(prior[touched]) - np.log1p(-prior[touched]) + delta[touched]
            new_prior[touched] = 1.0 / (1.0 + np.exp(-lg))
        return new_prior, np.array(present or [-1], dtype=np.int64), new_neg


@dataclass(frozen=True)
class _Plan:
    """The variants flattened into signed sub-sums ``u`` (one per subset of ``add_pos``), as
    arrays over the findings ``T`` that any variant touches and the affected causes ``a``."""

    owner: IntArray  # (U,) variant of each sub-sum, non-decreasing
    starts: IntArray  # (V,) first sub-sum of each variant
    causes: IntArray  # (U, a) affected causes, padded with the dummy cause n
    sign: FloatArray  # (U,) (-1)^|extra present findings|
    touched: IntArray  # (T,) finding indices
    add: FloatArray  # (U, T, a) log(1 - q) of findings the sub-sum adds absent, where fresh
    add_leak: FloatArray  # (U, T)
    drop: FloatArray  # (U, T, a) ... and of absent findings it removes, where observed
    drop_leak: FloatArray  # (U, T)
    extra: FloatArray  # (U, a) log(1 - q) of its extra present findings (always counted)
    extra_leak: FloatArray  # (U,)
    extra_of: BoolArray  # (T, U) finding t is an extra present finding of sub-sum u
    drop_pos: IntArray  # (T, U) 1 where sub-sum u drops present finding t
    shift: FloatArray  # (U, a) logit shift of each affected cause
    onehot: FloatArray  # (U, a, n + 1) affected cause a of sub-sum u is column c


@dataclass(frozen=True)
class _Accuracy:
    """What must be exact, per variant of the plan at hand: each posterior to ``tol`` (or, with
    ``logit``, to ``logit`` in log-odds, whichever is looser), and log P(evidence) to ``tol`` in
    relative terms unless ``exact_log_z`` is off."""

    tol: FloatArray  # (V,)
    exact_log_z: bool = True
    logit: float | None = None

    def take(self, idx: IntArray) -> _Accuracy:
        return dataclasses.replace(self, tol=self.tol[idx])


def _plan(net: Network, variants: Sequence[Variant]) -> _Plan:
    return _cached_plan(net, tuple(variants))


@functools.lru_cache(maxsize=512)
def _cached_plan(net: Network, variants: tuple[Variant, ...]) -> _Plan:
    owner: list[int] = []
    extras: list[tuple[int, ...]] = []
    affected: list[list[int]] = []
    starts: list[int] = []
    touched: dict[int, None] = {}
    for v, var in enumerate(variants):
        for i in (*var.add_pos, *var.add_neg, *var.drop_neg, *var.drop_pos):
            touched.setdefault(i, None)
        moved = set(var.add_pos) | set(var.add_neg) | set(var.drop_neg)
        cs = sorted(set().union(*(net.parents[i] for i in moved), (j for j, _ in var.shift)))
        starts.append(len(owner))
        for t in range(1 << len(var.add_pos)):
            owner.append(v)
            extras.append(tuple(b for bit, b in enumerate(var.add_pos) if t >> bit & 1))
            affected.append(cs)
    n_u, t_idx = len(owner), {f: t for t, f in enumerate(touched)}
    width = max((len(a) for a in affected), default=0) or 1
    causes = np.full((n_u, width), net.n_causes, dtype=np.int64)
    lq = np.hstack([net.log1m_q, np.zeros((net.n_findings, 1))])  # dummy cause: unlinked
    ll = net.log1m_leak
    add = np.zeros((n_u, len(t_idx), width))
    drop = np.zeros_like(add)
    add_leak = np.zeros((n_u, len(t_idx)))
    drop_leak = np.zeros_like(add_leak)
    extra = np.zeros((n_u, width))
    extra_leak = np.zeros(n_u)
    extra_of = np.zeros((len(t_idx), n_u), dtype=np.bool_)
    drop_pos = np.zeros((len(t_idx), n_u), dtype=np.int64)
    shift = np.zeros((n_u, width))
    for u, cs in enumerate(affected):
        causes[u, : len(cs)] = cs
        var, c = variants[owner[u]], causes[u]
        for i in var.add_neg:
            add[u, t_idx[i]], add_leak[u, t_idx[i]] = lq[i, c], ll[i]
        for i in var.drop_neg:
            drop[u, t_idx[i]], drop_leak[u, t_idx[i]] = lq[i, c], ll[i]
        for b in extras[u]:
            extra[u] += lq[b, c]
            extra_leak[u] += ll[b]
            extra_of[t_idx[b], u] = True
        for b in var.drop_pos:
            drop_pos[t_idx[b], u] = 1
        for j, d in var.shift:
            shift[u, c == j] += d
    return _Plan(
        owner=np.array(owner, dtype=np.int64),
        starts=np.array(starts, dtype=np.int64),
        causes=causes,
        sign=np.array([(-1.0) ** len(e) for e in extras]),
        touched=np.array(list(touched), dtype=np.int64),
        add=add,
        add_leak=add_leak,
        drop=drop,
        drop_leak=drop_leak,
        extra=extra,
        extra_leak=extra_leak,
        extra_of=extra_of,
        drop_pos=drop_pos,
        shift=shift,
        onehot=(causes[:, :, None] == np.arange(net.n_causes + 1)[None, None, :]).astype(float),
    )


def _row_terms(
    plan: _Plan, prior: FloatArray, sel: IntArray, neg: BoolArray, known: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray, IntArray]:
    """Per row and sub-sum: the log-factor shift of each affected cause, the leak shift, the
    new priors of the affected causes, whether the sub-sum applies, and the dropped columns.
    ``known``: present findings handled outside the signed sum (conditioned on)."""
    k = sel.shape[1]
    was_neg = neg[:, plan.touched].astype(np.float64)  # (N, T)
    hit = sel[:, :, None] == plan.touched[None, None, :]  # (N, k, T)
    n_u, n_t, width = plan.add.shape
    # one matrix product for both einsums "NT,UTa->NUa" (add where fresh, drop where observed)
    both = np.concatenate([plan.add, -plan.drop], axis=1).transpose(1, 0, 2)  # (2T, U, a)
    d_cause = (np.hstack([1.0 - was_neg, was_neg]) @ both.reshape(2 * n_t, n_u * width)).reshape(
        -1, n_u, width
    ) + plan.extra[None]
    d_leak = (1.0 - was_neg) @ plan.add_leak.T - was_neg @ plan.drop_leak.T + plan.extra_leak
    # an extra present finding the row already has adds no sub-sum of its own
    seen = hit.any(axis=1) | (known[:, :, None] == plan.touched[None, None, :]).any(axis=1)
    applies = ~((seen.astype(np.int64) @ plan.extra_of) > 0)
    col_bits = (hit * (1 << np.arange(k, dtype=np.int64))[None, :, None]).sum(axis=1)
    drop_bits = col_bits @ plan.drop_pos  # distinct powers of two: the sum is the union
    p = np.hstack([prior, np.zeros((prior.shape[0], 1))])[:, plan.causes]  # (N, U, a)
    moved = (plan.shift != 0)[None] & (p > 0)
    if moved.any():
        with np.errstate(divide="ignore"):
            lg = np.where(moved, np.log(p) - np.log1p(-p), 0.0) + plan.shift[None]
        p = np.where(moved, 1.0 / (1.0 + np.exp(-lg)), p)
    return d_cause, d_leak, p, applies, drop_bits


def _kernel(
    net: Network,
    plan: _Plan,
    prior: FloatArray,
    sel: IntArray,
    neg: BoolArray,
    dtype: type[np.floating[Any]],
    acc: _Accuracy,
    known: IntArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rows with exactly ``k = sel.shape[1]`` present columns (neutral-padded)."""
    n_rows, k = sel.shape
    n = net.n_causes
    known = np.full((n_rows, 1), -1, dtype=np.int64) if known is None else known
    d_cause, d_leak, new_prior, applies, drop_bits = _row_terms(plan, prior, sel, neg, known)
    # the shared table, with a dummy cause n (prior 0, never linked) for padding
    lq, ll = _extended(net, dtype)
    negx = np.zeros((n_rows, ll.shape[0]), dtype=dtype)
    negx[:, :-1] = neg
    p = np.zeros((n_rows, 1, n + 1), dtype=dtype)
    p[:, 0, :n] = prior
    bits, signs = _subsets(k, np.dtype(dtype).name)
    big_b = (negx @ lq)[:, None, :] + np.matmul(bits, lq[sel])  # (N, S, n+1)
    lk = (negx @ ll)[:, None] + ll[sel] @ bits.T  # (N, S)
    on = p * np.exp(big_b)
    t = (1 - p) + on
    log_t = np.log(t)
    ratio = on / t
    lt0 = lk + log_t.sum(axis=2)  # (N, S)
    # the affected causes of every sub-sum, recomputed with the variant's changes
    cs = plan.causes  # (U, a)
    b_a = big_b[:, :, cs]  # (N, S, U, a)
    b_new = b_a + d_cause.astype(dtype)[:, None, :, :]
    p_new = new_prior.astype(dtype)[:, None, :, :]
    on_new = p_new * np.exp(b_new)
    t_new = (1 - p_new) + on_new
    lt = (
        lt0[:, None, :]
        + d_leak.astype(dtype)[:, :, None]
        + (np.log(t_new) - log_t[:, :, cs]).sum(axis=3).transpose(0, 2, 1)
    )  # (N, U, S)
    keep = (np.arange(1 << k, dtype=np.int64)[None, None, :] & drop_bits[:, :, None]) == 0
    keep &= applies[:, :, None]
    lt = np.where(keep, lt, -np.inf)
    sign_u = plan.sign.astype(dtype)
    # one scale per (row, variant) so exp never under- or overflows
    shift_u = lt.max(axis=2)
    shift_v = np.maximum.reduceat(shift_u, plan.starts, axis=1)  # (N, V)
    shift_v = np.where(np.isfinite(shift_v), shift_v, 0.0)
    mag = np.exp(lt - shift_v[:, plan.owner][:, :, None])  # (N, U, S)
    w = mag * (signs[None, None, :] * sign_u[None, :, None])
    d_ratio = (on_new / t_new - ratio[:, :, cs]).transpose(0, 2, 1, 3)  # (N, U, S, a)

    flat, order, seg = _scatter(plan, n + 1)

    def numerator(weights: npt.NDArray[Any]) -> npt.NDArray[Any]:
        # the shared ratios, weighted per variant (summing the sub-sums first: matmul is
        # linear), plus each sub-sum's correction on its affected causes, added per target
        # (variant, cause) cell with one reduceat instead of a one-hot product
        corr = np.matmul(weights[:, :, None, :], d_ratio)[:, :, 0, :]  # (N, U, a)
        out: npt.NDArray[Any] = np.matmul(np.add.reduceat(weights, plan.starts, axis=1), ratio)
        c = corr.reshape(corr.shape[0], -1)[:, order]
        out.reshape(out.shape[0], -1)[:, flat] += np.add.reduceat(c, seg, axis=1)
        return out[:, :, :n]  # (N, V, n)

    z = np.add.reduceat(w.sum(axis=2), plan.starts, axis=1)  # (N, V)
    z_abs = np.add.reduceat(mag.sum(axis=2), plan.starts, axis=1)
    num = numerator(w)
    num_abs = numerator(mag)
    eps = float(np.finfo(dtype).eps)
    # z <= 0 cannot be trusted (err = inf: the caller falls back); keep the arithmetic quiet
    ok = z > 0
    zs = np.where(ok, z, 1.0)[:, :, None]
    post = num / zs
    log_z = (np.log(zs[:, :, 0]) + shift_v).astype(np.float64)
    # absolute rounding bound of each posterior, as engine._quickscore
    bound = eps * 4 * (num_abs + np.abs(post) * z_abs[:, :, None]) / zs
    # ... and the relative one of P(evidence), which log P(evidence) inherits
    if acc.logit is not None:  # log-odds exact to acc.logit is enough where that is looser
        odds_scale = acc.logit * np.abs(post) * np.abs(1 - post)
        bound = bound / np.maximum(1.0, odds_scale / acc.tol[None, :, None])
    err = bound.max(axis=2)
    if acc.exact_log_z:
        err = np.maximum(err, eps * 4 * z_abs / zs[:, :, 0])
    err = err.astype(np.float64)
    err = np.where(np.isfinite(err) & ok, err, np.inf)
    return np.clip(post.astype(np.float64), 0.0, 1.0), log_z, err


def _scatter(plan: _Plan, width: int) -> tuple[IntArray, IntArray, IntArray]:
    """Where each sub-sum's affected-cause corrections land in the flattened (variant, cause)
    numerator: the distinct target cells, the order that groups the (sub-sum, cause) slots by
    target, and each group's first slot (for ``np.add.reduceat``)."""
    target = (plan.owner[:, None] * width + plan.causes).reshape(-1)
    order = np.argsort(target, kind="stable")
    ranked = target[order]
    seg = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    return ranked[seg], order, seg


_tables: weakref.WeakKeyDictionary[Network, dict[str, tuple[npt.NDArray[Any], ...]]] = (
    weakref.WeakKeyDictionary()
)


def _extended(net: Network, dtype: type[np.floating[Any]]) -> tuple[npt.NDArray[Any], ...]:
    """log(1 - q) with the neutral finding (row m) and the dummy cause (column n) added, and
    log(1 - leak) with the neutral finding's, in ``dtype`` (cached per network)."""
    per_net = _tables.setdefault(net, {})
    key = np.dtype(dtype).name
    if key not in per_net:
        lq = np.zeros((net.n_findings + 1, net.n_causes + 1))
        lq[:-1, :-1] = net.log1m_q
        per_net[key] = (lq.astype(dtype), np.append(net.log1m_leak, _NEUTRAL).astype(dtype))
    return per_net[key]


@functools.lru_cache(maxsize=64)
def _subsets(k: int, dtype: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    bits, signs = subset_masks(k, 0, 1 << k)
    return bits.astype(dtype), signs.astype(dtype)


def _conditioned(
    net: Network,
    plan: _Plan,
    variants: Sequence[Variant],
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    limit: int,
    acc: _Accuracy,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One row, every variant, with the parents ``A`` of its rarest present findings ``D``
    clamped (as ``engine`` does for single rows): given ``A`` those findings are plain products,
    so only the other present findings go through the signed sums, which then cancel far less.
    """
    present = pos[pos >= 0]
    direct, a = clamp_choice(net, prior, present, limit)
    n_v = len(variants)
    if direct.size == 0:
        return np.zeros((n_v, net.n_causes)), np.zeros(n_v), np.full(n_v, np.inf)
    bits, _ = subset_masks(a.size, 0, 1 << a.size)
    rows = np.tile(prior, (len(bits), 1))
    rows[:, a] = bits
    rest = np.array([f for i, f in enumerate(present) if i not in set(direct.tolist())] or [-1])
    inner = np.tile(rest, (len(bits), 1))
    p_in, lz_in, e_in = _kernel(
        net,
        plan,
        rows,
        padded_present(net, inner)[0][0],
        np.tile(neg, (len(bits), 1)),
        np.float64,
        acc,
        np.tile(present[direct], (len(bits), 1)),
    )  # (C, V, n), (C, V)
    # outer log-weights per configuration and variant: P_v(A = bits) * P(D present | A)
    shift = np.zeros((n_v, a.size))
    dropped = np.zeros((n_v, direct.size), dtype=np.bool_)
    for v, var in enumerate(variants):
        for j, d in var.shift:
            shift[v, a == j] += d
        dropped[v] = np.isin(present[direct], var.drop_pos)
    lg = np.log(prior[a]) - np.log1p(-prior[a])
    p_v = 1.0 / (1.0 + np.exp(-(lg[None, :] + shift)))  # (V, A)
    with np.errstate(divide="ignore"):
        log_w = bits @ np.log(p_v).T + (1 - bits) @ np.log1p(-p_v).T  # (C, V)
        f = present[direct]
        log_absent = net.log1m_leak[f][None, :] + bits @ net.log1m_q[np.ix_(f, a)].T  # (C, D)
        log_f = np.log(-np.expm1(log_absent))
    log_w = log_w + log_f @ (~dropped).T.astype(np.float64)
    total = log_w + lz_in
    top = np.max(np.where(np.isfinite(total), total, -np.inf), axis=0)  # (V,)
    ok = np.isfinite(top)
    w = np.exp(total - np.where(ok, top, 0.0)[None, :])
    w = np.where(np.isfinite(w), w, 0.0)
    z = w.sum(axis=0)
    post = np.einsum("CV,CVn->Vn", w, np.where(w[:, :, None] > 0, p_in, 0.0)) / z[:, None]
    used = w > 0
    with np.errstate(invalid="ignore"):
        err = 2 * np.where(used, w * e_in, 0.0).sum(axis=0) / z
    err = np.where(ok & np.all(~used | np.isfinite(e_in), axis=0), err, np.inf)
    return post, np.log(z) + top, err


def _outcome_probability(log_z: FloatArray, groups: IntArray) -> FloatArray:
    """P(outcome | its observation) per row and variant; 1 where it cannot be told."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    lz = log_z[:, order]
    top = np.maximum.reduceat(lz, starts, axis=1)
    ok = np.isfinite(top) & np.logical_and.reduceat(np.isfinite(lz), starts, axis=1)
    size = np.diff(np.r_[starts, g.size])
    w = np.exp(lz - np.repeat(np.where(ok, top, 0.0), size, axis=1))
    p = w / np.repeat(np.add.reduceat(w, starts, axis=1), size, axis=1)
    out = np.empty_like(log_z)
    out[:, order] = np.where(np.repeat(ok, size, axis=1), p, 1.0)
    return out


def infer_variants(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    variants: Sequence[Variant],
    *,
    tolerance: float | Sequence[float] = TOLERANCE,
    outcome_of: Sequence[int] | None = None,
    exact_log_z: bool = True,
    logit_tolerance: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Posteriors ``(N, V, n)`` and log-likelihoods ``(N, V)`` of every variant of every row.

    Inputs as for ``engine.infer``; ``tolerance`` is one for all variants or one per variant.
    Equal, to the variant's tolerance, to ``infer`` on
    ``variant.apply(prior[r], pos[r], neg[r])`` for every row ``r`` and variant.

    ``outcome_of``: for callers that only use expectations over the outcomes of an observation
    (information gain), the observation each variant is an outcome of. A variant's posteriors then
    only need to be exact to ``tolerance / P(outcome)``: the expectation weighs them by
    ``P(outcome)``, so its error bound is the same as with ``tolerance`` on every outcome, and
    unlikely outcomes, whose signed sums cancel the most, need no extra precision.

    ``exact_log_z=False``: the caller uses only the posteriors, so the log-likelihoods are not held
    to the tolerance (``P(evidence)`` can lose more relative digits than the posteriors do).

    ``logit_tolerance``: for callers that use the posteriors' log-odds (the explanation), a
    posterior is also accepted when its log-odds are exact to this, where that is looser than
    ``tolerance`` (probable causes); improbable causes stay held to ``tolerance``.
    """
    prior = np.asarray(prior, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.int64).reshape(prior.shape[0], -1)
    neg = np.asarray(neg, dtype=np.bool_)
    n_rows, n = prior.shape
    n_v = len(variants)
    post = np.zeros((n_rows, n_v, n))
    log_z = np.zeros((n_rows, n_v))
    if n_v == 0 or n_rows == 0:
        return post, log_z
    plan = _plan(net, variants)
    tol = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (n_v,))
    err = np.full((n_rows, n_v), np.inf)
    groups = None if outcome_of is None else np.asarray(outcome_of, dtype=np.int64)
    acc = _Accuracy(np.array(tol), exact_log_z, logit_tolerance)

    def unsettled(r: IntArray | int) -> BoolArray:
        """Variants of rows ``r`` whose (outcome-weighted) error bound exceeds the tolerance."""
        e = np.atleast_2d(err[r])
        if groups is not None:
            e = e * _outcome_probability(np.atleast_2d(log_z[r]), groups)
        return np.asarray(e > tol[None, :])

    for sel, rows in padded_present(net, pos):
        k = sel.shape[1]
        per_row = (1 << k) * len(plan.owner) * (plan.causes.shape[1] + n + 1)
        step = max(1, _BUDGET // per_row)
        for s in range(0, len(rows), step):
            r, sub = rows[s : s + step], sel[s : s + step]
            post[r], log_z[r], err[r] = _kernel(net, plan, prior[r], sub, neg[r], np.float64, acc)
        # rows where rounding bites: their failing variants again, in extended precision, then
        # conditioned on the parents of the rarest present findings
        for i in np.flatnonzero(unsettled(rows).any(axis=1)).tolist():
            row = int(rows[i])
            # cheapest first: few clamped causes, then extended precision, then more clamped
            for retry in (_FEW_CLAMPED, 0, _MAX_CLAMPED):
                bad = np.flatnonzero(unsettled(row)[0])
                if bad.size == 0:
                    break
                few = [variants[v] for v in bad.tolist()]
                if retry == 0:
                    p_x, lz_x, e_x = _kernel(
                        net,
                        _plan(net, few),
                        prior[row : row + 1],
                        sel[i : i + 1],
                        neg[row : row + 1],
                        np.longdouble,
                        acc.take(bad),
                    )
                    p_x, lz_x, e_x = p_x[0], lz_x[0], e_x[0]
                else:
                    p_x, lz_x, e_x = _conditioned(
                        net,
                        _plan(net, few),
                        few,
                        prior[row],
                        pos[row],
                        neg[row],
                        retry,
                        acc.take(bad),
                    )
                better = e_x < err[row, bad]
                idx = bad[better]
                post[row, idx], log_z[row, idx] = p_x[better], lz_x[better]
                err[row, idx] = e_x[better]
    # what extended precision could not settle goes through infer's exact fallbacks
    for r, v in zip(*np.nonzero(unsettled(np.arange(n_rows))), strict=True):
        p_x, pos_x, neg_x = variants[v].apply(prior[r], pos[r], neg[r])
        p_e, lz_e = infer(net, p_x[None, :], pos_x[None, :], neg_x[None, :], tolerance=tol[v])
        post[r, v], log_z[r, v] = p_e[0], lz_e[0]
    return post, log_z
