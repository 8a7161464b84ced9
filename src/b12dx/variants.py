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
rounding bound as ``infer``; the variants whose bound fails are redone on a table of their own,
first with the row's rarest present finding in differential form (``_kernel_differential``), then
conditioned on clamped causes or in extended precision, and finally by ``infer`` itself (which has
the exact fallbacks).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    absorbed_priors,
    clamp_choice,
    infer,
    padded_present,
    pair_shares,
    single_parent_terms,
    subset_masks,
)

__all__ = ["Variant", "infer_variants"]

# Conditioning first tries at most this many clamped causes (2^this inner rows).
_FEW_CLAMPED = 6

# Precision retries in order: -1 the differential form, 0 extended precision, else conditioning
# on this many clamped causes (cheapest first).
_RETRIES = (-1, _FEW_CLAMPED, 0, _MAX_CLAMPED)

# The differential form goes first where the plain sum's predicted error bound exceeds this
# many times the tolerance (the prediction is rough; the bound itself decides, and the plain
# kernel is the cheaper one where both settle).
_PREDICTED_MISS = 20.0

_TINY = 1e-300
# One row with more present findings than this (after absorption) skips the shared table: its
# 2^k signed sums cost more than conditioning, and cancel.
_CROWDED = 10
_LOG_ROUNDING = float(np.log(4 * np.finfo(np.float64).eps))  # the plain kernel's per-term eps

# One row's variants that add a finding are restated as shifts (``_restated_added``) only from
# this many present findings left in the sums: below it the kernel's cost is mostly per call,
# not per sub-sum, and the restatement costs more than it saves (measured on the examples).
_RESTATE_ADDED_FROM = 7

# A cause's absorbed prior must keep 1 - p above this over the tolerance when a variant shifts
# it back (``_keep_off_one``): 16 x float64's eps, so that the error of its log-odds, times the
# quarter a posterior moved back to 1/2 carries, stays under a sixteenth of the tolerance.
_EDGE_EPS = 16 * float(np.finfo(np.float64).eps)

# Elements of the largest (rows x subsets x pairs) intermediate per kernel call.
_BUDGET = 1 << 22


@dataclass(frozen=True)
class Variant:
    """A change to every row's evidence (set semantics, like ``Observation.plus/without``).

    ``add_pos``/``add_neg``: findings observed present/absent in addition (already observed ones
    are not counted twice); ``drop_pos``/``drop_neg``: observations removed (where the row has
    them); ``shift``: ``(cause, delta)`` pairs added to the logit of a cause's prior (causes with
    prior 0 or 1 stay there).
    """

    add_pos: tuple[int, ...] = ()
    add_neg: tuple[int, ...] = ()
    drop_pos: tuple[int, ...] = ()
    drop_neg: tuple[int, ...] = ()
    shift: tuple[tuple[int, float], ...] = ()
    # variants are dictionary keys many times per assessment (plan cache, what-if memo)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if set(self.add_pos) & set(self.drop_pos) or set(self.add_neg) & set(self.drop_neg):
            raise ValueError("a variant cannot both add and drop the same observation")
        key = (self.add_pos, self.add_neg, self.drop_pos, self.drop_neg, self.shift)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

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
            touched = (delta != 0) & (prior > 0) & (prior < 1)  # 0 and 1 are settled
            lg = np.log(prior[touched]) - np.log1p(-prior[touched]) + delta[touched]
            new_prior[touched] = 1.0 / (1.0 + np.exp(-lg))
        return new_prior, np.array(present or [-1], dtype=np.int64), new_neg


@dataclass(frozen=True)
class _Plan:
    """The variants flattened into signed sub-sums ``u`` (one per subset of ``add_pos``), over
    the findings ``T`` that any variant touches, and the (sub-sum, affected cause) pairs ``P``
    (sorted by sub-sum; a sub-sum that affects no cause gets one pair with the dummy cause n, so
    every sub-sum owns a run of pairs)."""

    owner: IntArray  # (U,) variant of each sub-sum, non-decreasing
    starts: IntArray  # (V,) first sub-sum of each variant
    # (V, U) 1 where the sub-sum is the variant's: sums over sub-sums as one small matmul
    # (faster than reduceat along a middle axis)
    group: FloatArray
    pair_group: FloatArray  # (U, P) 1 where the pair is the sub-sum's
    sign: FloatArray  # (U,) (-1)^|extra present findings|
    touched: IntArray  # (T,) finding indices
    pair_u: IntArray  # (P,) sub-sum of each pair, non-decreasing
    pair_c: IntArray  # (P,) cause of each pair (n: the dummy cause)
    pair_starts: IntArray  # (U,) first pair of each sub-sum
    # the shift of each pair's log-factor and each sub-sum's log(1 - leak) product: the base
    # (as if no touched finding were observed absent: what the sub-sum adds absent, and its
    # extra present findings) plus, per touched finding the row has observed absent, the
    # observed-minus-fresh change (not added again; removed where the variant drops it)
    cause_base: FloatArray  # (P,)
    cause_observed: FloatArray  # (T, P)
    leak_base: FloatArray  # (U,)
    leak_observed: FloatArray  # (T, U), subtracted
    pair_cause: IntArray  # (P,) pair_c with the dummy cause n replaced by 0 ...
    pair_real: FloatArray  # (P,) ... and zeroed here
    extra_of: BoolArray  # (T, U) finding t is an extra present finding of sub-sum u
    drop_pos: IntArray  # (T, U) 1 where sub-sum u drops present finding t
    shift: FloatArray  # (P,) logit shift of the pair's cause
    # where the pairs' numerator corrections land in the flattened (variant, cause) numerator:
    # the distinct cells, the order grouping the pairs by cell, and each group's first pair
    cells: IntArray
    cell_order: IntArray
    cell_starts: IntArray


@dataclass(frozen=True)
class _Accuracy:
    """What must be exact, per variant of the plan at hand: each posterior to ``tol`` (or, where
    ``logit > 0``, to ``logit`` in log-odds, whichever is looser), and log P(evidence) to ``tol``
    in relative terms where ``exact_log_z``."""

    tol: FloatArray  # (V,)
    exact_log_z: BoolArray  # (V,)
    logit: FloatArray  # (V,) 0: no log-odds allowance

    def take(self, idx: IntArray) -> _Accuracy:
        return _Accuracy(self.tol[idx], self.exact_log_z[idx], self.logit[idx])


def _plan(net: Network, variants: Sequence[Variant]) -> _Plan:
    return _cached_plan(net, tuple(variants))


@functools.lru_cache(maxsize=512)
def _cached_plan(net: Network, variants: tuple[Variant, ...]) -> _Plan:
    n = net.n_causes
    owner: list[int] = []
    extras: list[tuple[int, ...]] = []
    starts: list[int] = []
    touched: dict[int, None] = {}
    pair_u: list[int] = []
    pair_c: list[int] = []
    pair_starts: list[int] = []
    for v, var in enumerate(variants):
        for i in (*var.add_pos, *var.add_neg, *var.drop_neg, *var.drop_pos):
            touched.setdefault(i, None)
        moved = set(var.add_pos) | set(var.add_neg) | set(var.drop_neg)
        cs = sorted(set().union(*(net.parents[i] for i in moved), (j for j, _ in var.shift)))
        starts.append(len(owner))
        for t in range(1 << len(var.add_pos)):
            pair_starts.append(len(pair_u))
            pair_u += [len(owner)] * max(1, len(cs))
            pair_c += cs or [n]
            owner.append(v)
            extras.append(tuple(b for bit, b in enumerate(var.add_pos) if t >> bit & 1))
    n_u, n_p, t_idx = len(owner), len(pair_u), {f: t for t, f in enumerate(touched)}
    n_t = len(t_idx)
    lq = np.hstack([net.log1m_q, np.zeros((net.n_findings, 1))])  # dummy cause: unlinked
    ll = net.log1m_leak
    both = np.zeros((2 * n_t, n_p))
    add_leak = np.zeros((n_u, n_t))
    drop_leak = np.zeros_like(add_leak)
    extra = np.zeros(n_p)
    extra_leak = np.zeros(n_u)
    extra_of = np.zeros((n_t, n_u), dtype=np.bool_)
    drop_pos = np.zeros((n_t, n_u), dtype=np.int64)
    shift = np.zeros(n_p)
    ends = [*pair_starts[1:], n_p]
    for u, (lo, hi) in enumerate(zip(pair_starts, ends, strict=True)):
        var, c = variants[owner[u]], np.array(pair_c[lo:hi])
        for i in var.add_neg:
            both[t_idx[i], lo:hi], add_leak[u, t_idx[i]] = lq[i, c], ll[i]
        for i in var.drop_neg:
            both[n_t + t_idx[i], lo:hi], drop_leak[u, t_idx[i]] = -lq[i, c], ll[i]
        for b in extras[u]:
            extra[lo:hi] += lq[b, c]
            extra_leak[u] += ll[b]
            extra_of[t_idx[b], u] = True
        for b in var.drop_pos:
            drop_pos[t_idx[b], u] = 1
        for j, d in var.shift:
            shift[lo:hi][c == j] += d
    pu, pc = np.array(pair_u, dtype=np.int64), np.array(pair_c, dtype=np.int64)
    owner_a = np.array(owner, dtype=np.int64)
    target = owner_a[pu] * (n + 1) + pc
    order = np.argsort(target, kind="stable")
    ranked = target[order]
    seg = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    group = np.zeros((len(variants), n_u))
    group[owner_a, np.arange(n_u)] = 1.0
    pair_group = np.zeros((n_u, n_p))
    pair_group[pu, np.arange(n_p)] = 1.0
    return _Plan(
        cause_base=both[:n_t].sum(axis=0) + extra,
        cause_observed=both[n_t:] - both[:n_t],
        leak_base=add_leak.sum(axis=1) + extra_leak,
        leak_observed=(add_leak + drop_leak).T.copy(),
        pair_cause=np.where(pc < n, pc, 0),
        pair_real=(pc < n).astype(np.float64),
        owner=owner_a,
        starts=np.array(starts, dtype=np.int64),
        group=group,
        pair_group=pair_group,
        sign=np.array([(-1.0) ** len(e) for e in extras]),
        touched=np.array(list(touched), dtype=np.int64),
        pair_u=pu,
        pair_c=pc,
        pair_starts=np.array(pair_starts, dtype=np.int64),
        extra_of=extra_of,
        drop_pos=drop_pos,
        shift=shift,
        cells=ranked[seg],
        cell_order=order,
        cell_starts=seg,
    )


def _row_terms(
    plan: _Plan, prior: FloatArray, sel: IntArray, neg: BoolArray, known: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray, IntArray]:
    """Per row and pair: the log-factor shift of the pair's cause and its new prior; per row and
    sub-sum: the leak shift, whether the sub-sum applies, and the dropped columns.
    ``known``: present findings handled outside the signed sum (conditioned on)."""
    k = sel.shape[1]
    was_neg = neg[:, plan.touched].astype(np.float64)  # (N, T)
    hit = sel[:, :, None] == plan.touched[None, None, :]  # (N, k, T)
    # add where fresh, drop where observed: one matrix product (once, when every row has the
    # same absent findings, as the conditioned rows of one case do)
    same = was_neg.shape[0] > 1 and bool((was_neg == was_neg[:1]).all())
    one = was_neg[:1] if same else was_neg
    d_cause = plan.cause_base + one @ plan.cause_observed  # (N or 1, P)
    d_leak = plan.leak_base - one @ plan.leak_observed
    if same:
        d_cause = np.broadcast_to(d_cause, (was_neg.shape[0], d_cause.shape[1]))
        d_leak = np.broadcast_to(d_leak, (was_neg.shape[0], d_leak.shape[1]))
    # an extra present finding the row already has adds no sub-sum of its own
    seen = hit.any(axis=1) | (known[:, :, None] == plan.touched[None, None, :]).any(axis=1)
    applies = ~((seen.astype(np.int64) @ plan.extra_of) > 0)
    col_bits = (hit * (1 << np.arange(k, dtype=np.int64))[None, :, None]).sum(axis=1)
    drop_bits = col_bits @ plan.drop_pos  # distinct powers of two: the sum is the union
    p = prior[:, plan.pair_cause] * plan.pair_real  # (N, P); the dummy cause's prior is 0
    moved = (plan.shift != 0)[None] & (p > 0) & (p < 1)  # p = 0 or 1 stays put
    if moved.any():
        x = np.where(moved, p, 0.5)  # logs only where the logit moves
        p = np.where(moved, 1.0 / (1.0 + np.exp(-(np.log(x) - np.log1p(-x) + plan.shift))), p)
    return d_cause, d_leak, p, applies, drop_bits


@dataclass(frozen=True)
class _Table:
    """The shared per-subset table of one group of rows, cause-major ``(N, n+1, S)`` so the pairs
    gather whole rows; column n is a dummy cause (prior 0, never linked) for padding."""

    lq: npt.NDArray[Any]  # log(1 - q), extended (``_extended``)
    ll: npt.NDArray[Any]  # log(1 - leak), extended
    p: npt.NDArray[Any]  # (N, n+1, 1) priors
    signs: npt.NDArray[Any]  # (S,) (-1)^|S|
    big_b: npt.NDArray[Any]  # (N, n+1, S) log prod(1 - q) over absent findings and S
    exp_b: npt.NDArray[Any]  # exp(big_b)
    t: npt.NDArray[Any]  # (N, n+1, S) each cause's factor, summed over its states
    log_t: npt.NDArray[Any]
    ratio: npt.NDArray[Any]  # (N, n+1, S) the factor's share with the cause present
    lt0: npt.NDArray[Any]  # (N, S) log of each subset's term


def _table(
    net: Network,
    prior: FloatArray,
    cols: IntArray,
    neg: BoolArray,
    dtype: type[np.floating[Any]],
) -> _Table:
    """The table over the subsets of the present columns ``cols``."""
    n_rows, n = prior.shape[0], net.n_causes
    lq, ll, _ = _extended(net, dtype)
    negx = np.zeros((n_rows, ll.shape[0]), dtype=dtype)
    negx[:, :-1] = neg
    p = np.zeros((n_rows, n + 1, 1), dtype=dtype)
    p[:, :n, 0] = prior
    bits, signs = _subsets(cols.shape[1], _DTYPE_NAMES[dtype])
    big_b = (negx @ lq)[:, :, None] + np.matmul(lq[cols].transpose(0, 2, 1), bits.T)
    lk = (negx @ ll)[:, None] + ll[cols] @ bits.T  # (N, S)
    exp_b = np.exp(big_b)
    on = p * exp_b
    t = (1 - p) + on
    log_t = np.log(t)
    return _Table(lq, ll, p, signs, big_b, exp_b, t, log_t, on / t, lk + log_t.sum(axis=1))


def _pair_terms(
    tab: _Table,
    plan: _Plan,
    d_cause: FloatArray,
    d_leak: FloatArray,
    new_prior: FloatArray,
    dtype: type[np.floating[Any]],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """The affected causes of every sub-sum (the pairs), recomputed with the variant's changes,
    laid out ``(N, P, S)`` so each sub-sum's pairs are consecutive rows for reduceat: the new
    prior, the factor's present part and the whole factor, and each sub-sum's log term
    ``(N, U, S)``."""
    cs = plan.pair_c
    p_new = new_prior.astype(dtype)[:, :, None]
    # exp(B + d) = exp(B) exp(d) and a sum of log-ratios is the log of their product: one exp
    # per pair and one log per (sub-sum, subset), where the (pair, subset) grid is the largest.
    # A variant moves B by a few links' log(1 - q), so where exp(B) underflows the factor is 1 - p
    # either way.
    on_new = tab.exp_b[:, cs, :]
    on_new *= p_new * np.exp(d_cause.astype(dtype))[:, :, None]
    t_new = on_new + (1 - p_new)
    quotient = tab.t[:, cs, :]
    np.divide(t_new, quotient, out=quotient)
    d_log = np.log(np.multiply.reduceat(quotient, plan.pair_starts, axis=1))
    lt = tab.lt0[:, None, :] + d_leak.astype(dtype)[:, :, None] + d_log
    return p_new, on_new, t_new, lt


def _scaled(
    lt: npt.NDArray[Any], keep: BoolArray, plan: _Plan, signs: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """Each sub-sum's terms ``(N, U, S)`` as magnitudes and signed weights, on one scale per
    (row, variant) so exp never under- or overflows; and that scale's log ``(N, V)``."""
    lt = np.where(keep, lt, -np.inf)
    shift_u = lt.max(axis=2)
    shift_v = np.maximum.reduceat(shift_u, plan.starts, axis=1)
    shift_v = np.where(np.isfinite(shift_v), shift_v, 0.0)
    mag = np.exp(lt - shift_v[:, plan.owner][:, :, None])
    sign_u = plan.sign.astype(mag.dtype)
    return mag, mag * (signs[None, None, :] * sign_u[None, :, None]), shift_v


def _settle(
    num: npt.NDArray[Any],
    num_abs: npt.NDArray[Any],
    z: npt.NDArray[Any],
    z_abs: npt.NDArray[Any],
    shift_v: npt.NDArray[Any],
    acc: _Accuracy,
    eps: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Posteriors, log P(evidence) and the error bound of every (row, variant) from the signed
    sums and their absolute counterparts; ``eps``: the per-term rounding allowance."""
    # z <= 0 cannot be trusted (err = inf: the caller falls back); keep the arithmetic quiet
    ok = z > 0
    zs = np.where(ok, z, 1.0)[:, :, None]
    post = num / zs
    log_z = (np.log(zs[:, :, 0]) + shift_v).astype(np.float64)
    # absolute rounding bound of each posterior, as engine._quickscore
    bound = eps * (num_abs + np.abs(post) * z_abs[:, :, None]) / zs
    # ... and the relative one of P(evidence), which log P(evidence) inherits
    if acc.logit.any():  # log-odds exact to acc.logit is enough where that is looser
        odds_scale = acc.logit[None, :, None] * np.abs(post) * np.abs(1 - post)
        bound = bound / np.maximum(1.0, odds_scale / acc.tol[None, :, None])
    err = bound.max(axis=2)
    if acc.exact_log_z.any():
        z_err = np.where(acc.exact_log_z[None, :], eps * z_abs / zs[:, :, 0], 0.0)
        err = np.maximum(err, z_err)
    err = err.astype(np.float64)
    err = np.where(np.isfinite(err) & ok, err, np.inf)
    return np.clip(post.astype(np.float64), 0.0, 1.0), log_z, err


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
    tab = _table(net, prior, sel, neg, dtype)
    _, on_new, t_new, lt = _pair_terms(tab, plan, d_cause, d_leak, new_prior, dtype)
    keep = (np.arange(1 << k, dtype=np.int64)[None, None, :] & drop_bits[:, :, None]) == 0
    keep &= applies[:, :, None]
    mag, w, shift_v = _scaled(lt, keep, plan, tab.signs)
    d_ratio = tab.ratio[:, plan.pair_c, :]  # (N, P, S): the new share minus the old
    np.subtract(on_new / t_new, d_ratio, out=d_ratio)

    def numerator(weights: npt.NDArray[Any]) -> npt.NDArray[Any]:
        # the shared ratios weighted per sub-sum, summed per variant (in this order: fewer
        # operations), plus each pair's correction on its cause, added per target (variant,
        # cause) cell with one reduceat instead of a one-hot product
        corr = np.einsum("nps,nps->np", np.take(weights, plan.pair_u, axis=1), d_ratio)
        out: npt.NDArray[Any] = plan.group @ np.matmul(weights, tab.ratio.transpose(0, 2, 1))
        _add_cells(out, corr, plan)
        return out[:, :, :n]  # (N, V, n)

    z = w.sum(axis=2) @ plan.group.T  # (N, V)
    z_abs = mag.sum(axis=2) @ plan.group.T
    eps = 4 * float(np.finfo(dtype).eps)
    return _settle(numerator(w), numerator(mag), z, z_abs, shift_v, acc, eps)


def _add_cells(num: npt.NDArray[Any], corr: npt.NDArray[Any], plan: _Plan) -> None:
    """Add each pair's correction ``corr`` ``(N, P)`` to its (variant, cause) cell of ``num``
    ``(N, V, n+1)``, in place."""
    flat = num.reshape(num.shape[0], -1)
    flat[:, plan.cells] += np.add.reduceat(corr[:, plan.cell_order], plan.cell_starts, axis=1)


def _log_absent(net: Network, prior: FloatArray, sel: IntArray) -> FloatArray:
    """log P(finding absent) under the priors alone, per row and present column ``(N, k)``
    (the neutral padding is never absent)."""
    _, ll, em = _extended(net, np.float64)
    return np.asarray(ll[sel] + np.log1p(prior[:, None, :] * em[sel, :-1]).sum(axis=2))


def _cancels(log_absent: FloatArray, tol: float) -> BoolArray:
    """Rows whose plain signed sum is expected to miss ``tol``, so that the differential form
    goes first (a plain pass and then a retry cost more). Were the present findings independent,
    each would multiply the sum of the terms' magnitudes over the sum itself by ``(1 + a) /
    (1 - a)``, ``a`` its probability of being absent; times the per-term rounding that predicts
    the plain sum's error bound (within a small factor on the bundled examples, where its
    rounding is what fails)."""
    a = np.exp(log_absent)
    log_ratio = (np.log1p(a) - np.log(np.maximum(-np.expm1(log_absent), _TINY))).sum(axis=1)
    return np.asarray(log_ratio > np.log(_PREDICTED_MISS * tol) - _LOG_ROUNDING)


def _rarest_last(
    net: Network, prior: FloatArray, sel: IntArray, log_absent: FloatArray | None = None
) -> IntArray:
    """``sel`` with each row's columns reordered so that the present finding least likely under
    the priors (the one whose subset pairs cancel most) comes last; rows without a present
    column get one neutral column. ``log_absent``: ``_log_absent`` of ``sel``, when known."""
    if sel.shape[1] == 0:
        return np.full((sel.shape[0], 1), net.n_findings, dtype=np.int64)
    if log_absent is None:
        log_absent = _log_absent(net, prior, sel)
    star = log_absent.argmax(axis=1)
    is_star = np.arange(sel.shape[1])[None, :] == star[:, None]
    order = np.argsort(is_star, axis=1, kind="stable")
    return np.take_along_axis(sel, order, axis=1)


def _kernel_differential(
    net: Network,
    plan: _Plan,
    prior: FloatArray,
    sel: IntArray,
    neg: BoolArray,
    dtype: type[np.floating[Any]],
    acc: _Accuracy,
    known: IntArray | None = None,
    ordered: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rows with exactly ``k = sel.shape[1]`` present columns (neutral-padded).

    The signed sum runs over the subsets ``S`` of all present columns but the last (``f``,
    the row's rarest present finding); each ``S`` and ``S + f`` are summed as one term,
    ``term(S) * delta(S)`` with ``delta = 1 - term(S + f) / term(S)`` (``engine._differential``),
    so ``f`` causes no cancellation. Sub-sums that drop ``f`` sum the ``S`` alone.
    ``ordered``: ``sel`` is already ``_rarest_last``'s order.
    """
    if not ordered:
        sel = _rarest_last(net, prior, sel)
    n_rows, k = sel.shape
    n = net.n_causes
    known = np.full((n_rows, 1), -1, dtype=np.int64) if known is None else known
    d_cause, d_leak, new_prior, applies, drop_bits = _row_terms(plan, prior, sel, neg, known)
    star_bit = 1 << (k - 1)
    drop_star = (drop_bits & star_bit) != 0  # (N, U)
    drop_rest = drop_bits & (star_bit - 1)
    rest, f = sel[:, : k - 1], sel[:, k - 1]
    tab = _table(net, prior, rest, neg, dtype)
    ratio = tab.ratio
    lq_f = tab.lq[f][:, :, None]  # (N, n+1, 1)
    q_f = -np.expm1(lq_f)
    log_keep, share_a, share_b = pair_shares(ratio, (1 - tab.p) / tab.t, q_f, lq_f)
    l0 = tab.ll[f][:, None] + log_keep.sum(axis=1)  # (N, S): log(term(S + f) / term(S))
    cs = plan.pair_c
    p_new, on_new, t_new, lt = _pair_terms(tab, plan, d_cause, d_leak, new_prior, dtype)
    r_new = on_new / t_new
    # only pairs whose cause is a parent of f change its pair shares (elsewhere q_f = 0: no
    # change to log(1 - r q_f), A = 0 and B = r)
    linked = np.flatnonzero((q_f[:, cs, 0] > 0).any(axis=0))
    cl = cs[linked]
    log_keep_l, a_l, b_l = pair_shares(
        r_new[:, linked], (1 - p_new[:, linked]) / t_new[:, linked], q_f[:, cl], lq_f[:, cl]
    )
    # the change of log(1 - r q_f), summed per sub-sum over its linked pairs
    ell = l0[:, None, :] + np.matmul(plan.pair_group[:, linked], log_keep_l - log_keep[:, cl])
    delta = np.where(drop_star[:, :, None], 1.0, -np.expm1(ell))  # (N, U, S)
    subsets = np.arange(1 << (k - 1), dtype=np.int64)
    keep = (subsets[None, None, :] & drop_rest[:, :, None]) == 0
    keep &= applies[:, :, None]
    mag, w, shift_v = _scaled(lt, keep, plan, tab.signs)
    pair = ~drop_star[:, :, None]
    any_dropped = bool(drop_star.any())
    # each pair's correction of its cause's share: (A + B delta) for a subset pair, the plain
    # ratio in sub-sums that drop f
    d_plain = r_new - ratio[:, cs]  # the share's change off f's parents (A = 0, B = r)
    fix = d_plain * delta[:, plan.pair_u, :]
    fix[:, linked] = (a_l - share_a[:, cl]) + (b_l - share_b[:, cl]) * delta[
        :, plan.pair_u[linked], :
    ]
    if any_dropped:
        np.copyto(fix, d_plain, where=~pair[:, plan.pair_u, :])

    g = plan.group
    # the shares each weight multiplies, side by side along the subsets: (N, 2S or 3S, n+1)
    shares = np.concatenate([share_a, share_b, *([ratio] if any_dropped else [])], axis=2)
    shares = shares.transpose(0, 2, 1)

    def numerator(weights: npt.NDArray[Any]) -> npt.NDArray[Any]:
        # as in _kernel: the shared shares weighted per variant, plus each pair's correction
        w_pair = weights * pair if any_dropped else weights
        parts = [w_pair, w_pair * delta, *([weights * ~pair] if any_dropped else [])]
        out: npt.NDArray[Any] = g @ np.matmul(np.concatenate(parts, axis=2), shares)
        corr = np.einsum("nps,nps->np", np.take(weights, plan.pair_u, axis=1), fix)
        _add_cells(out, corr, plan)
        return out[:, :, :n]  # (N, V, n)

    z = (w * delta).sum(axis=2) @ g.T  # (N, V)
    z_abs = (mag * delta).sum(axis=2) @ g.T
    # more operations per term than a plain signed sum: twice engine._quickscore's allowance
    eps = 8 * float(np.finfo(dtype).eps)
    return _settle(numerator(w), numerator(mag), z, z_abs, shift_v, acc, eps)


# the floating types the kernels run in, by name (the caches' keys)
_DTYPE_NAMES: dict[type[np.floating[Any]], str] = {
    np.float64: "float64",
    np.longdouble: "longdouble",
}


def _extended(net: Network, dtype: type[np.floating[Any]]) -> tuple[npt.NDArray[Any], ...]:
    """log(1 - q) with the neutral finding (row m) and the dummy cause (column n) added,
    log(1 - leak) with the neutral finding's, and -q (``expm1`` of the first), in ``dtype``
    (cached per network, like the plans)."""
    return _extended_cached(net, _DTYPE_NAMES[dtype])


@functools.lru_cache(maxsize=64)
def _extended_cached(net: Network, dtype: str) -> tuple[npt.NDArray[Any], ...]:
    lq = np.zeros((net.n_findings + 1, net.n_causes + 1))
    lq[:-1, :-1] = net.log1m_q
    return (
        lq.astype(dtype),
        np.append(net.log1m_leak, _NEUTRAL).astype(dtype),
        np.expm1(lq).astype(dtype),
    )


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
    known: IntArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One row, every variant, with the parents ``A`` of its rarest present findings ``D``
    clamped (as ``engine`` does for single rows): given ``A`` those findings are plain products,
    so only the other present findings go through the signed sums, which then cancel far less.
    ``known``: present findings already outside the sums (absorbed; -1 padded).
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
        np.tile(np.concatenate([present[direct], known[known >= 0]]), (len(bits), 1)),
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
        # causes with prior 1 are on in every configuration (clamp_choice leaves them out)
        settled = net.log1m_leak[f] + net.log1m_q[np.ix_(f, np.flatnonzero(prior >= 1))].sum(axis=1)
        log_absent = settled[None, :] + bits @ net.log1m_q[np.ix_(f, a)].T  # (C, D)
        log_f = np.log(-np.expm1(log_absent))
    # a masked sum, not a product: log_f is -inf where D is impossible given A (no leak)
    log_w = log_w + np.where((~dropped).T[None, :, :], log_f[:, :, None], 0.0).sum(axis=1)
    total = log_w + lz_in
    top = np.max(np.where(np.isfinite(total), total, -np.inf), axis=0)  # (V,)
    ok = np.isfinite(top)
    w = np.exp(total - np.where(ok, top, 0.0)[None, :])
    w = np.where(np.isfinite(w), w, 0.0)
    z = w.sum(axis=0)
    used = w > 0
    # z = 0: impossible evidence for that variant (err = inf: the caller falls back)
    with np.errstate(invalid="ignore", divide="ignore"):
        post = np.einsum("CV,CVn->Vn", w, np.where(w[:, :, None] > 0, p_in, 0.0)) / z[:, None]
        err = 2 * np.where(used, w * e_in, 0.0).sum(axis=0) / z
        log_z = np.log(z) + top
    err = np.where(ok & (z > 0) & np.all(~used | np.isfinite(e_in), axis=0), err, np.inf)
    return np.nan_to_num(post), log_z, err


@dataclass(frozen=True)
class _Groups:
    """The variants grouped by the observation they are outcomes of (sorted layout, once per
    call: ``_outcome_probability`` runs for every precision check)."""

    order: IntArray
    starts: IntArray
    size: IntArray

    @classmethod
    def of(cls, groups: Sequence[int] | None) -> _Groups | None:
        """None when there are no groups or every group has one variant (probability 1)."""
        return None if groups is None else _groups_of(tuple(groups))


@functools.lru_cache(maxsize=512)
def _groups_of(groups: tuple[int, ...]) -> _Groups | None:
    g = np.asarray(groups, dtype=np.int64)
    order = np.argsort(g, kind="stable")
    ranked = g[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    if starts.size == g.size:
        return None
    return _Groups(order, starts, np.diff(np.r_[starts, g.size]))


def _outcome_probability(log_z: FloatArray, groups: _Groups) -> FloatArray:
    """P(outcome | its observation) per row and variant; 1 where it cannot be told."""
    starts, size = groups.starts, groups.size
    lz = log_z[:, groups.order]
    top = np.maximum.reduceat(lz, starts, axis=1)
    ok = np.isfinite(top) & np.logical_and.reduceat(np.isfinite(lz), starts, axis=1)
    w = np.exp(lz - np.repeat(np.where(ok, top, 0.0), size, axis=1))
    p = w / np.repeat(np.add.reduceat(w, starts, axis=1), size, axis=1)
    out = np.empty_like(log_z)
    out[:, groups.order] = np.where(np.repeat(ok, size, axis=1), p, 1.0)
    return out


@dataclass(frozen=True)
class _Absorbed:
    """The rows with their one-parent present findings multiplied into the priors
    (``engine.absorb_single_parents``), the variants restated for them, and what each (row,
    variant)'s log P(evidence) gains back."""

    prior: FloatArray
    pos: IntArray
    known: IntArray  # (N, K) the absorbed findings (-1 elsewhere): present, outside the sums
    variants: tuple[Variant, ...]
    offset: FloatArray  # (N, V)


@dataclass(frozen=True)
class _Adds:
    """The variants that add exactly one present finding, none of whose parents they shift:
    candidates for ``_restated_added``."""

    var: IntArray  # (E,) variant
    finding: IntArray  # (E,) the finding it adds
    parents: BoolArray  # (E, n) the finding's parents
    log1m_q: FloatArray  # (E, n) log(1 - q) of its links (0 off its parents)
    log1m_leak: FloatArray  # (E,)


@dataclass(frozen=True)
class _Held:
    """What a tuple of variants does to findings and causes (cached per network and tuple)."""

    observed: frozenset[int]  # findings some variant observes absent or un-observes
    dropping: dict[int, tuple[int, ...]]  # present finding -> the variants that drop it
    shifting: dict[int, tuple[int, ...]]  # cause -> the variants that shift its prior
    adds: _Adds | None


@functools.lru_cache(maxsize=512)
def _held(net: Network, variants: tuple[Variant, ...]) -> _Held:
    dropping: dict[int, list[int]] = {}
    shifting: dict[int, list[int]] = {}
    for v, var in enumerate(variants):
        for f in var.drop_pos:
            dropping.setdefault(f, []).append(v)
        for j, _ in var.shift:
            shifting.setdefault(j, []).append(v)
    return _Held(
        frozenset(i for var in variants for i in (*var.add_neg, *var.drop_neg)),
        {f: tuple(vs) for f, vs in dropping.items()},
        {j: tuple(vs) for j, vs in shifting.items()},
        _adds(net, variants),
    )


def _adds(net: Network, variants: tuple[Variant, ...]) -> _Adds | None:
    rows = [
        (v, var.add_pos[0])
        for v, var in enumerate(variants)
        if len(var.add_pos) == 1
        and var.add_pos[0] not in var.add_neg
        and var.add_pos[0] not in var.drop_neg
        and not {j for j, _ in var.shift} & set(net.parents[var.add_pos[0]])
    ]
    if not rows:
        return None
    fs = np.array([f for _, f in rows], dtype=np.int64)
    parents = np.zeros((len(rows), net.n_causes), dtype=np.bool_)
    for e, f in enumerate(fs.tolist()):
        parents[e, list(net.parents[f])] = True
    return _Adds(
        np.array([v for v, _ in rows], dtype=np.int64),
        fs,
        parents,
        np.where(parents, net.log1m_q[fs], 0.0),
        net.log1m_leak[fs],
    )


def _absorb(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    variants: Sequence[Variant],
    tol: float,
) -> _Absorbed | None:
    """Present findings with at most one uncertain parent leave the signed sums, as in
    ``engine.infer``: halving the shared table per finding, and removing the cancellation a
    rare one causes. The variants still see the original rows:

    * adding an absorbed finding again changes nothing (it is ``known``);
    * a logit shift of its parent commutes with it (the absorbed prior's odds are the prior's
      times the findings' likelihood ratio); only the normaliser changes, per variant;
    * dropping it (one row only) is the shift that divides its likelihood ratio back out, with
      the normaliser changed to match;
    * (one row only) a variant that adds one finding with at most one uncertain parent is
      restated the same way: the shift that multiplies its likelihood ratio in
      (``_restated_added``), so it needs one signed sub-sum instead of two.

    With several rows the variants are shared, so findings that a variant drops, or whose parent
    a variant shifts, stay in the sums. Findings a variant observes absent stay too, and so do
    findings with an infinite likelihood ratio (a shift could not undo them)."""
    held = _held(net, tuple(variants))
    if prior.shape[0] == 1:
        return _absorb_one(net, prior, pos, neg, tuple(variants), held, tol)
    if not (pos >= 0).any():
        return None
    take, parent, log_g0, log_g1 = single_parent_terms(net, prior, pos)
    take &= ~np.isin(pos, list(held.observed | held.dropping.keys()))
    take &= np.isfinite(log_g0) & np.isfinite(log_g1)
    if held.shifting:
        take &= ~np.isin(parent, list(held.shifting))
    if not take.any():
        return None
    new_prior, log_add = absorbed_priors(prior, take, parent, log_g0, log_g1)
    offset = np.repeat(log_add[:, None], len(variants), axis=1)
    known = np.where(take, pos, -1)
    return _Absorbed(new_prior, np.where(take, -1, pos), known, tuple(variants), offset)


def _absorb_one(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    variants: tuple[Variant, ...],
    held: _Held,
    tol: float,
) -> _Absorbed | None:
    """``_absorb`` for one row (one assessment), in plain floats: a finding or two, a cause or
    two, where array operations would cost more than the arithmetic. *tol*: the strictest
    tolerance asked for (see ``_near_one``)."""
    p = prior[0].tolist()
    row = pos[0].tolist()
    absorbed: dict[int, tuple[int, float, float]] = {}  # finding -> (parent or -1, log g0, g1)
    cols: list[int] = []
    for col, f in enumerate(row):
        if f < 0 or f in held.observed or f in absorbed:
            continue
        parents = net.parents[f]
        live = [j for j in parents if 0.0 < p[j] < 1.0]
        if len(live) > 1:
            continue
        lq = net.log1m_q[f]
        base = float(net.log1m_leak[f]) + sum(float(lq[j]) for j in parents if p[j] >= 1.0)
        j = live[0] if live else -1
        if base >= 0.0 or (j >= 0 and base + float(lq[j]) >= 0.0):
            continue  # present with probability 0 in some state: not absorbed (no shift undoes it)
        g0 = math.log(-math.expm1(base))
        g1 = math.log(-math.expm1(base + float(lq[j]))) if j >= 0 else g0
        absorbed[f] = (j, g0, g1)
        cols.append(col)
    _keep_off_one(p, absorbed, held, tol)
    cols = [c for c in cols if row[c] in absorbed]
    seen = [f for f in row if f >= 0]
    restate_added = len(seen) - len(cols) >= _RESTATE_ADDED_FROM
    if not absorbed and not restate_added:
        return None
    sums: dict[int, tuple[float, float]] = {}
    log_add = 0.0
    for j, g0, g1 in absorbed.values():
        if j < 0:
            log_add += g0
            continue
        l0, l1 = sums.get(j, (0.0, 0.0))
        sums[j] = (l0 + g0, l1 + g1)
    new_prior = prior.copy()
    for j, (l0, l1) in sums.items():
        norm = _log_norm(p[j], 0.0, l0, l1)
        new_prior[0, j] = math.exp(math.log(p[j]) + l1 - norm)
        log_add += norm
    new_pos = pos.copy()
    known = np.full_like(pos, -1)
    new_pos[0, cols] = -1
    known[0, cols] = pos[0, cols]
    restated, gains, changed = _restated(p, absorbed, sums, variants, held)
    added = None
    if restate_added:
        added = _restated_added(net, new_prior[0], seen, neg[0], variants, held, changed)
    if added is not None:
        mods, more = added
        if mods:
            out = list(restated)
            for v, var in mods:
                out[v] = var
            restated = tuple(out)
        gains = gains + more
    elif not absorbed:
        return None
    offset = (log_add + gains)[None, :]
    return _Absorbed(new_prior, new_pos, known, restated, offset)


def _keep_off_one(
    prior: list[float],
    absorbed: dict[int, tuple[int, float, float]],
    held: _Held,
    tol: float,
) -> None:
    """Leave in the sums (un-absorb, in place) the findings of a cause whose absorbed prior would
    be so close to 1 that a variant shifting it back (leaving one of its findings out, or a logit
    shift of the cause) would lose digits: ``1 - p`` is held to float64's relative rounding, so
    the log-odds carry an error of about ``eps / (1 - p)``, and a posterior moved back towards
    1/2 carries a quarter of that. Kept where that stays under a sixteenth of *tol*."""
    by_cause: dict[int, list[int]] = {}
    for f, (j, _, _) in absorbed.items():
        if j >= 0:
            by_cause.setdefault(j, []).append(f)
    edge = _EDGE_EPS / tol
    for j, fs in by_cause.items():
        moved = j in held.shifting or any(f in held.dropping for f in fs)
        if not moved:
            continue
        lg = math.log(prior[j]) - math.log1p(-prior[j])
        lg += sum(absorbed[f][2] - absorbed[f][1] for f in fs)
        if lg > 700.0 or 1.0 / (1.0 + math.exp(lg)) < edge:
            for f in fs:
                del absorbed[f]


def _restated_added(
    net: Network,
    prior: FloatArray,
    seen: list[int],
    neg: BoolArray,
    variants: tuple[Variant, ...],
    held: _Held,
    changed: list[int],
) -> tuple[tuple[tuple[int, Variant], ...], FloatArray] | None:
    """One row's variants that add a finding with at most one uncertain parent, restated as
    that parent's logit shift (its likelihood ratio, as ``_absorb`` does for the row's own
    findings) and the change of the variant's log normaliser: the variant then needs one signed
    sub-sum instead of two. ``prior``: the row's (absorbed) priors; ``seen``: its present and
    absorbed findings; ``changed``: variants ``_restated`` rewrote (left as they are). Returns
    the rewritten (variant, restated variant) pairs and every variant's normaliser change."""
    adds = held.adds
    if adds is None:
        return None
    uncertain = (prior > 0.0) & (prior < 1.0)
    settled_on = prior >= 1.0
    live = adds.parents & uncertain[None, :]
    n_live = live.sum(axis=1)
    has = neg.copy()
    has[seen] = True
    ok = (n_live <= 1) & ~has[adds.finding]
    if changed:
        rewritten = np.zeros(len(variants), dtype=np.bool_)
        rewritten[changed] = True
        ok &= ~rewritten[adds.var]
    parent = np.where(n_live == 1, live.argmax(axis=1), -1)
    base = adds.log1m_leak + np.where(settled_on[None, :], adds.log1m_q, 0.0).sum(axis=1)
    lq = np.where(parent >= 0, adds.log1m_q[np.arange(parent.size), parent], 0.0)
    ok &= (base < 0.0) & (base + lq < 0.0)  # present with probability 0 somewhere: left as is
    e = np.flatnonzero(ok)
    if e.size == 0:
        return None
    parent, base, lq = parent[e], base[e], lq[e]
    g0 = np.log(-np.expm1(base))
    g1 = np.log(-np.expm1(base + lq))
    p = np.where(parent >= 0, prior[np.maximum(parent, 0)], 0.5)  # no uncertain parent: g0
    logit = np.log(p) - np.log1p(-p)
    norm = np.logaddexp(g1 - np.logaddexp(0.0, -logit), g0 - np.logaddexp(0.0, logit))
    gains = np.zeros(len(variants))
    gains[adds.var[e]] = np.where(parent >= 0, norm, g0)
    # the rewritten variants depend only on these (the shifts on the network's numbers)
    key = (net, variants, e.tobytes(), parent.tobytes(), settled_on.tobytes())
    mods = _added_cache.get(key)
    if mods is None:
        rewrite = []
        shifts = (g1 - g0).tolist()
        for v, j, shift in zip(adds.var[e].tolist(), parent.tolist(), shifts, strict=True):
            var = variants[v]
            moved = (*var.shift, (j, shift)) if j >= 0 else var.shift
            rewrite.append((v, Variant((), var.add_neg, var.drop_pos, var.drop_neg, moved)))
        if len(_added_cache) > 256:
            _added_cache.clear()
        mods = _added_cache[key] = tuple(rewrite)
    return mods, gains


_added_cache: dict[tuple[object, ...], tuple[tuple[int, Variant], ...]] = {}


def _restated(
    prior: list[float],
    absorbed: dict[int, tuple[int, float, float]],
    sums: dict[int, tuple[float, float]],
    variants: Sequence[Variant],
    held: _Held,
) -> tuple[tuple[Variant, ...], FloatArray, list[int]]:
    """One row's variants for its absorbed priors, the change of each variant's log
    normaliser, and the variants rewritten: where a variant shifts an absorbing cause or drops
    an absorbed finding, the cause's normaliser ``log(p e^{L1} + (1 - p) e^{L0})`` is recomputed
    with the variant's prior and findings. ``absorbed``: finding -> (parent or -1, log g0,
    log g1); ``sums``: per parent, the summed (log g0, log g1) of its absorbed findings."""
    affected = sorted(
        {v for f in absorbed for v in held.dropping.get(f, ())}
        | {v for j in sums for v in held.shifting.get(j, ())}
    )
    out = list(variants)
    gains = np.zeros(len(variants))
    for v in affected:
        var = variants[v]
        extra: list[tuple[int, float]] = []
        change = {j: (0.0, 0.0) for j, _ in var.shift if j in sums}
        for f in var.drop_pos:
            if f not in absorbed:
                continue
            j, g0, g1 = absorbed[f]
            if j < 0:
                gains[v] -= g0
                continue
            extra.append((j, g0 - g1))
            c0, c1 = change.get(j, (0.0, 0.0))
            change[j] = (c0 + g0, c1 + g1)
        for j, (c0, c1) in change.items():
            l0, l1 = sums[j]
            delta = sum(d for jj, d in var.shift if jj == j)
            gains[v] += _log_norm(prior[j], delta, l0 - c0, l1 - c1) - _log_norm(
                prior[j], 0.0, l0, l1
            )
        out[v] = Variant(
            var.add_pos,
            var.add_neg,
            tuple(f for f in var.drop_pos if f not in absorbed),
            var.drop_neg,
            (*var.shift, *extra),
        )
    return tuple(out), gains, affected


def _log_norm(p: float, delta: float, l0: float, l1: float) -> float:
    """``log(p' e^{l1} + (1 - p') e^{l0})`` with ``p'`` the prior ``p`` shifted by ``delta`` in
    log-odds."""
    lg = math.log(p) - math.log1p(-p) + delta
    a = l1 - math.log1p(math.exp(-lg)) if lg > -700 else l1 + lg
    b = l0 - math.log1p(math.exp(lg)) if lg < 700 else l0 - lg
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _per_variant(value: Any, n_v: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """One value per variant, from one for all or a sequence of ``n_v`` (a fresh array)."""
    a = np.array(value, dtype=dtype)
    return a if a.shape == (n_v,) else np.full(n_v, a, dtype=dtype)


def _logits(value: float | Sequence[float | None] | None) -> FloatArray:
    if value is None or isinstance(value, float | int):
        return np.asarray(value or 0.0, dtype=np.float64)
    return np.array([v or 0.0 for v in value], dtype=np.float64)


def infer_variants(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    variants: Sequence[Variant],
    *,
    tolerance: float | Sequence[float] = TOLERANCE,
    outcome_of: Sequence[int] | None = None,
    exact_log_z: bool | Sequence[bool] = True,
    logit_tolerance: float | Sequence[float | None] | None = None,
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

    ``tolerance``, ``exact_log_z`` and ``logit_tolerance`` are each one value for all variants or
    one per variant, so callers with different needs can share one call (``Context.fetch``).
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
    original = (prior, pos, variants)
    tol = _per_variant(tolerance, n_v, np.float64)
    absorbed = _absorb(net, prior, pos, neg, variants, float(tol.min()))
    if absorbed is None:
        known = np.full((n_rows, 1), -1, dtype=np.int64)
        offset = np.zeros((n_rows, n_v))
    else:
        prior, pos, variants = absorbed.prior, absorbed.pos, absorbed.variants
        known, offset = absorbed.known, absorbed.offset
    plan = _plan(net, variants)
    err = np.full((n_rows, n_v), np.inf)
    groups = _Groups.of(outcome_of)
    acc = _Accuracy(
        tol,
        _per_variant(exact_log_z, n_v, np.bool_),
        _per_variant(_logits(logit_tolerance), n_v, np.float64),
    )

    def unsettled(r: IntArray | int) -> BoolArray:
        """Variants of rows ``r`` whose (outcome-weighted) error bound exceeds the tolerance."""
        e = np.atleast_2d(err[r])
        if groups is not None:
            e = e * _outcome_probability(np.atleast_2d(log_z[r] + offset[r]), groups)
        return np.asarray(e > tol[None, :])

    f64 = np.float64
    retried: list[int] = []
    differential: set[int] = set()  # rows that started in differential form
    for sel_k, rows_k in padded_present(net, pos):
        k = sel_k.shape[1]
        if k > _CROWDED and n_rows == 1:  # straight to the conditioned retries
            differential.update(rows_k.tolist())
            retried += rows_k.tolist()
            continue
        per_row = (1 << k) * max(plan.pair_c.size, len(plan.owner), n + 1)
        step = max(1, _BUDGET // per_row)
        if k:
            log_absent = _log_absent(net, prior[rows_k], sel_k)
            first = _cancels(log_absent, float(tol.min()))
        else:
            first = rows_k < 0
        for s in range(0, len(rows_k), step):
            r, sub, diff = rows_k[s : s + step], sel_k[s : s + step], first[s : s + step]
            if not diff.any():
                post[r], log_z[r], err[r] = _kernel(
                    net, plan, prior[r], sub, neg[r], f64, acc, known[r]
                )
                continue
            differential.update(r[diff].tolist())
            rd = r[diff]
            ordered = _rarest_last(net, prior[rd], sub[diff], log_absent[s : s + step][diff])
            post[rd], log_z[rd], err[rd] = _kernel_differential(
                net, plan, prior[rd], ordered, neg[rd], f64, acc, known[rd], ordered=True
            )
            if not diff.all():
                rp = r[~diff]
                post[rp], log_z[rp], err[rp] = _kernel(
                    net, plan, prior[rp], sub[~diff], neg[rp], f64, acc, known[rp]
                )
        retried += rows_k[unsettled(rows_k).any(axis=1)].tolist()
    # where rounding bites: the failing variants of each row again on a shared table, first with
    # the row's rarest present finding in differential form, then conditioned on the parents of
    # the rarest present findings, in extended precision, and conditioned on more ...
    again = np.array(sorted(retried), dtype=np.int64)
    for row in again.tolist():
        for retry in _RETRIES:
            bad = np.flatnonzero(unsettled(row)[0])
            if bad.size == 0:
                break
            if retry < 0 and row in differential:
                continue
            few = [variants[v] for v in bad.tolist()]
            if retry <= 0:
                kernel = _kernel_differential if retry < 0 else _kernel
                p_x, lz_x, e_x = kernel(
                    net,
                    _plan(net, few),
                    prior[row : row + 1],
                    padded_present(net, pos[row : row + 1])[0][0],
                    neg[row : row + 1],
                    np.float64 if retry < 0 else np.longdouble,
                    acc.take(bad),
                    known[row : row + 1],
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
                    known[row],
                )
            better = e_x < err[row, bad]
            idx = bad[better]
            post[row, idx], log_z[row, idx] = p_x[better], lz_x[better]
            err[row, idx] = e_x[better]
    # back to the original rows' log P(evidence)
    log_z += offset
    offset = np.zeros_like(offset)
    # ... and what is still unsettled goes through infer's exact fallbacks, on the original rows
    prior, pos, variants = original
    for i, v in zip(*np.nonzero(unsettled(again)), strict=True) if again.size else ():
        row = int(again[i])
        p_x, pos_x, neg_x = variants[v].apply(prior[row], pos[row], neg[row])
        p_e, lz_e = infer(
            net,
            p_x[None, :],
            pos_x[None, :],
            neg_x[None, :],
            tolerance=tol[v],
            exact_log_z=bool(acc.exact_log_z[v]),
            plain=False,  # this variant's signed sum has failed already
        )
        post[row, v], log_z[row, v] = p_e[0], lz_e[0]
    return post, log_z
