"""Exact inference in the two-layer noisy-OR network (QMR-DT style).

Causes ``C_j`` are independent with per-person priors ``p_j``; each finding ``F_i`` is a
noisy-OR of its causes with a leak::

    P(F_i absent | causes) = (1 - leak_i) * prod_{j on} (1 - q_ij)

Unobserved findings sum out, so only observed findings enter. Posteriors are exact by one of
two equivalent routes, whichever is cheaper for the case:

* Quickscore (Heckerman 1989): a signed sum over the subsets of the *present* findings,
  ``O(2^k * n)`` for ``k`` present findings and ``n`` causes;
* enumeration of the cause configurations with non-zero prior, ``O(2^n' * m)``, used when a
  case has more present findings than it has possible causes.

Present findings with at most one uncertain parent never enter the signed sums: they are
multiplied into that parent's prior (``absorb_single_parents``). Quickscore's terms alternate in
sign and can cancel; each row carries a rounding bound, and rows that fail it are redone with
their rarest present finding in differential form (each pair of subsets with and without it
summed as one positive term, ``_differential``), conditioned on a few clamped causes (after
which more findings are absorbed), in extended precision, or by enumeration.
Routes bound to fail are skipped, not tried in turn: rows with many present findings are probed
on their rarest ones first (``_probe``), extended precision runs only where its bound can pass,
conditioning refines each inner row only as far as its share of P(evidence) needs, and the
clamped causes are chosen for the least work (``_clamp_sets``; ``docs/decisions.md``).

The kernel is batched: every function takes ``N`` rows at once, and a single case is a batch of
one, so single-case and batch results are the same computation. No I/O happens here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .kb import KnowledgeBase

__all__ = [
    "TOLERANCE",
    "Network",
    "absorb_single_parents",
    "absorbed_priors",
    "clamp_choice",
    "compile_network",
    "infer",
    "logit",
    "padded_present",
    "pair_shares",
    "single_parent_terms",
    "subset_masks",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Rows whose (pessimistic) rounding bound exceeds this are redone in extended precision; the
# contract is agreement with brute-force enumeration to 1e-9.
TOLERANCE = 1e-10

# Rows that need conditioning clamp at most this many causes (2^this inner rows).
_MAX_CLAMPED = 10
# ... raised up to this many when that leaves too many present findings to the inner sums:
_MAX_CONDITIONED = 16
_INNER_FINDINGS = 6
# Conditioning tables up to this many (inner row, subset) pairs skip the share-weighted pass.
_SMALL_TABLE = 1 << 12
# Enumerating cause configurations is the last resort, affordable up to this many causes.
_MAX_ENUMERATED = 16

# log(1 - leak) of the neutral padding finding: exp() of it is exactly 0.0 in any precision
_NEUTRAL = -1e5

# Subsets are enumerated in chunks of at most this many rows, bounding memory for large k.
_SUBSET_CHUNK = 1 << 14
# ... and rows in blocks of at most this many (row, subset) pairs per chunk, so that the
# (rows, subsets, causes) intermediates stay in cache-friendly sizes when many rows share a k.
_PAIR_BLOCK = 1 << 15

# Rows with more present findings than this are probed on their rarest ones before the full
# signed sums are tried (``_probe``).
_PROBE = 10

# Extended precision shrinks a rounding bound by this factor (1.0 where longdouble is float64).
_EXTENDED_GAIN = float(np.finfo(np.longdouble).eps) / float(np.finfo(np.float64).eps)


def logit(p: FloatArray | float) -> FloatArray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-300, 1 - 1e-16)
    return np.asarray(np.log(p) - np.log1p(-p), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Network:
    """The KB's causes and findings compiled to arrays (built once per KB)."""

    cause_ids: tuple[str, ...]
    finding_ids: tuple[str, ...]
    cause_index: dict[str, int]
    finding_index: dict[str, int]
    log1m_leak: FloatArray  # (m,) log(1 - leak_i)
    log1m_q: FloatArray  # (m, n) log(1 - q_ij); 0 where there is no link
    link_sources: dict[tuple[str, str], tuple[str, ...]] = field(repr=False)
    # every source cited by any link of a finding (for indirect, explaining-away effects)
    finding_sources: dict[str, tuple[str, ...]] = field(repr=False, default_factory=dict)
    # the linked causes of each finding (derived from log1m_q when not given)
    parents: tuple[frozenset[int], ...] = field(repr=False, default=())

    def __post_init__(self) -> None:
        if not self.parents:
            linked = tuple(frozenset(np.flatnonzero(row < 0).tolist()) for row in self.log1m_q)
            object.__setattr__(self, "parents", linked)

    @property
    def n_causes(self) -> int:
        return len(self.cause_ids)

    @property
    def n_findings(self) -> int:
        return len(self.finding_ids)


def compile_network(kb: KnowledgeBase) -> Network:
    """Compile (and cache, per KB content hash) the KB's network."""
    return _compile(kb.sha256 or str(id(kb)), kb)


_networks: dict[str, Network] = {}


def _compile(key: str, kb: KnowledgeBase) -> Network:
    net = _networks.get(key)
    if net is not None:
        return net
    cause_ids = tuple(c.id for c in kb.causes)
    finding_ids = tuple(f.id for f in kb.findings)
    ci = {c: j for j, c in enumerate(cause_ids)}
    fi = {f: i for i, f in enumerate(finding_ids)}
    log1m_leak = np.array([np.log1p(-f.leak.value) for f in kb.findings], dtype=np.float64)
    log1m_q = np.zeros((len(finding_ids), len(cause_ids)), dtype=np.float64)
    sources: dict[tuple[str, str], tuple[str, ...]] = {}
    for link in kb.links:
        log1m_q[fi[link.finding], ci[link.cause]] = np.log1p(-link.value)
        sources[(link.cause, link.finding)] = link.sources
    log1m_leak.setflags(write=False)
    log1m_q.setflags(write=False)
    by_finding: dict[str, dict[str, None]] = {}
    for (_, finding), src in sources.items():
        by_finding.setdefault(finding, {}).update(dict.fromkeys(src))
    net = Network(
        cause_ids,
        finding_ids,
        ci,
        fi,
        log1m_leak,
        log1m_q,
        sources,
        {f: tuple(v) for f, v in by_finding.items()},
    )
    _networks[key] = net
    return net


def subset_masks(k: int, start: int, stop: int) -> tuple[FloatArray, FloatArray]:
    """Rows start..stop of the 2^k subset indicator matrix, and their (-1)^|S| signs."""
    idx = np.arange(start, stop, dtype=np.int64)
    bits = ((idx[:, None] >> np.arange(k, dtype=np.int64)[None, :]) & 1).astype(np.float64)
    signs = np.where(bits.sum(axis=1) % 2 == 0, 1.0, -1.0)
    return bits, signs


def _row_step(n_rows: int, subsets: int) -> int:
    """Rows per block for a kernel over ``subsets`` subsets (``_PAIR_BLOCK``)."""
    return max(1, _PAIR_BLOCK // min(subsets, _SUBSET_CHUNK))


def _joined(
    parts: list[tuple[FloatArray, FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    post, log_z, err = zip(*parts, strict=True)
    return np.concatenate(post), np.concatenate(log_z), np.concatenate(err)


def _quickscore(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    dtype: type[np.floating[Any]] = np.float64,
    exact_log_z: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rows that all have exactly ``k = pos.shape[1]`` present findings.

    Returns posteriors, log P(evidence) and a per-row error bound estimate: the signed sum
    loses about ``eps * sum|terms| / |sum terms|`` of relative accuracy.
    """
    n_rows, k = pos.shape
    step = _row_step(n_rows, 2**k)
    if step < n_rows:
        parts = [
            _quickscore(
                net, prior[i : i + step], pos[i : i + step], neg[i : i + step], dtype, exact_log_z
            )
            for i in range(0, n_rows, step)
        ]
        return _joined(parts)
    # index m is a neutral finding that is always present (leak 1): subsets containing it
    # contribute exactly zero
    log1m_q = np.vstack([net.log1m_q, np.zeros((1, net.n_causes))]).astype(dtype)
    log1m_leak = np.append(net.log1m_leak, _NEUTRAL).astype(dtype)
    neg = np.pad(neg, ((0, 0), (0, 1)))
    base_c = neg.astype(dtype) @ log1m_q  # (N, n)
    base_l = neg.astype(dtype) @ log1m_leak  # (N,)
    pos_c = log1m_q[pos]  # (N, k, n)
    pos_l = log1m_leak[pos]  # (N, k)
    p = prior.astype(dtype)[:, None, :]
    total = 2**k
    chunks = []
    for start in range(0, total, _SUBSET_CHUNK):
        bits, signs = subset_masks(k, start, min(total, start + _SUBSET_CHUNK))
        bits = bits.astype(dtype)
        b = base_c[:, None, :] + np.matmul(bits, pos_c)  # (N, S, n)
        lk = base_l[:, None] + pos_l @ bits.T  # (N, S)
        on = p * np.exp(b)  # p_j * prod(1 - q): the factor with cause j present
        t = (1 - p) + on  # (N, S, n)
        log_term = lk + np.log(t).sum(axis=2)  # (N, S)
        chunks.append((log_term, signs.astype(dtype), on / t))
    # Rescale by the largest |term| so that exp never under- or overflows.
    shift = np.max([c[0].max(axis=1) for c in chunks], axis=0)  # (N,)
    z = np.zeros(n_rows, dtype=dtype)
    z_abs = np.zeros(n_rows, dtype=dtype)
    num = np.zeros((n_rows, net.n_causes), dtype=dtype)
    num_abs = np.zeros((n_rows, net.n_causes), dtype=dtype)
    for log_term, signs, ratio in chunks:
        mag = np.exp(log_term - shift[:, None])  # (N, S)
        w = signs[None, :] * mag
        z += w.sum(axis=1)
        z_abs += mag.sum(axis=1)
        num += np.einsum("Ns,Nsn->Nn", w, ratio)
        num_abs += np.einsum("Ns,Nsn->Nn", mag, ratio)
    eps = float(np.finfo(dtype).eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        post = (num / z[:, None]).astype(np.float64)
        log_z = (np.log(z) + shift).astype(np.float64)
        # absolute rounding bound of each posterior: the signed sums' cancellation
        bound = eps * 4 * (num_abs + np.abs(num / z[:, None]) * z_abs[:, None]) / np.abs(z)[:, None]
        err = bound.max(axis=1)
        if exact_log_z:  # ... and the relative one of P(evidence), which log P(evidence) inherits
            err = np.maximum(err, eps * 4 * z_abs / np.abs(z))
        err = err.astype(np.float64)
        err = np.where(np.isfinite(err) & (z > 0), err, np.inf)
    return np.clip(post, 0.0, 1.0), log_z, err


def pair_shares(
    r: npt.NDArray[Any], s: npt.NDArray[Any], q_f: npt.NDArray[Any], lq_f: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """For the differential finding f, per cause and subset (``r``: the cause's posterior factor,
    ``s = 1 - r``; ``q_f``, ``lq_f``: q and log(1 - q) of f): ``log(1 - r q_f)`` and the cause's
    shares ``A = r (1 - rho)`` and ``B = r rho`` of a subset pair, ``rho = (1 - q_f)/(1 - r q_f)``
    (its numerator term is ``A + B delta``), each without cancellation (delta can be far below
    eps): ``log1p`` where ``r q`` is small, ``s + r (1 - q)`` otherwise."""
    rq = r * q_f
    small = rq < 0.5
    keep = np.where(small, 1 - rq, s + r * np.exp(lq_f))
    with np.errstate(divide="ignore"):
        log_keep = np.where(small, np.log1p(-rq), np.log(keep))
    return log_keep, r * q_f * s / keep, r * np.exp(lq_f) / keep


def _differential(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    exact_log_z: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quickscore with one present finding ``f`` per row taken in differential form.

    The subsets ``S`` and ``S + f`` carry opposite signs and nearly cancel when ``f`` is rare;
    their difference is ``term(S) * delta(S)`` with ``delta = 1 - term(S + f) / term(S)`` computed
    as ``-expm1(log(1 - leak_f) + sum_j log(1 - r_j q_jf))`` from the per-subset posterior factors
    ``r_j``, all of whose parts are positive. Summing the pairs as single terms removes the
    cancellation that ``f`` caused. ``f`` is the present finding least likely under the priors.
    Rows with no present finding get an infinite error bound (nothing to gain).
    """
    n_rows, k = pos.shape
    n = net.n_causes
    if k == 0:
        return np.zeros((n_rows, n)), np.zeros(n_rows), np.full(n_rows, np.inf)
    step = _row_step(n_rows, 2 ** (k - 1))
    if step < n_rows:
        blocks = [
            _differential(
                net, prior[i : i + step], pos[i : i + step], neg[i : i + step], exact_log_z
            )
            for i in range(0, n_rows, step)
        ]
        return _joined(blocks)
    log1m_q = np.vstack([net.log1m_q, np.zeros((1, n))])
    log1m_leak = np.append(net.log1m_leak, _NEUTRAL)
    negx = np.pad(neg, ((0, 0), (0, 1))).astype(np.float64)
    base_c = negx @ log1m_q  # (N, n)
    base_l = negx @ log1m_leak  # (N,)
    real = pos < net.n_findings
    lq_pos = log1m_q[pos]  # (N, k, n)
    log_absent = log1m_leak[pos] + np.log1p(prior[:, None, :] * np.expm1(lq_pos)).sum(axis=2)
    score = np.where(real, log_absent, -np.inf)
    star = score.argmax(axis=1)  # (N,)
    has = real.any(axis=1)
    rows = np.arange(n_rows)
    f = pos[rows, star]
    rest = pos[np.arange(k)[None, :] != star[:, None]].reshape(n_rows, k - 1)
    lq_f = log1m_q[f][:, None, :]  # (N, 1, n)
    q_f = -np.expm1(lq_f)
    p = prior[:, None, :]
    total = 2 ** (k - 1)
    z = np.zeros(n_rows)
    z_abs = np.zeros(n_rows)
    num = np.zeros((n_rows, n))
    num_abs = np.zeros((n_rows, n))
    parts = []
    for start in range(0, total, _SUBSET_CHUNK):
        bits, signs = subset_masks(k - 1, start, min(total, start + _SUBSET_CHUNK))
        b = base_c[:, None, :] + np.matmul(bits, log1m_q[rest])  # (N, S, n)
        lk = base_l[:, None] + log1m_leak[rest] @ bits.T  # (N, S)
        on = p * np.exp(b)
        t = (1 - p) + on
        log_keep, a, c = pair_shares(on / t, (1 - p) / t, q_f, lq_f)
        delta = -np.expm1(log1m_leak[f][:, None] + log_keep.sum(axis=2))  # (N, S)
        parts.append((lk + np.log(t).sum(axis=2), signs, delta, a, c))
    shift = np.max([lt.max(axis=1) for lt, *_ in parts], axis=0)  # (N,)
    for lt, signs, delta, a, c in parts:
        mag = np.exp(lt - shift[:, None])
        w = signs[None, :] * mag
        z += (w * delta).sum(axis=1)
        z_abs += (mag * delta).sum(axis=1)
        num += np.einsum("Ns,Nsn->Nn", w, a) + np.einsum("Ns,Nsn->Nn", w * delta, c)
        num_abs += np.einsum("Ns,Nsn->Nn", mag, a) + np.einsum("Ns,Nsn->Nn", mag * delta, c)
    eps = float(np.finfo(np.float64).eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        post = num / z[:, None]
        log_z = np.log(z) + shift
        # more operations per term than plain Quickscore: twice its per-term allowance
        bound = eps * 8 * (num_abs + np.abs(post) * z_abs[:, None]) / np.abs(z)[:, None]
        err = bound.max(axis=1)
        if exact_log_z:
            err = np.maximum(err, eps * 8 * z_abs / np.abs(z))
        err = np.where(np.isfinite(err) & (z > 0) & has, err, np.inf)
    return np.clip(np.nan_to_num(post), 0.0, 1.0), log_z, err


def _enumerate(
    net: Network, prior: FloatArray, pos: IntArray, neg: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Exact posteriors by summing over cause configurations (one row at a time)."""
    n_rows = prior.shape[0]
    post = np.zeros_like(prior)
    log_z = np.zeros(n_rows)
    for r in range(n_rows):
        live = np.flatnonzero((prior[r] > 0) & (prior[r] < 1))
        on = prior[r] >= 1  # settled on: part of every configuration
        configs = np.array(list(itertools.product((0.0, 1.0), repeat=len(live))))
        if len(live) == 0:
            configs = np.zeros((1, 0))
        pr = prior[r, live]
        log_pc = configs @ np.log(pr) + (1 - configs) @ np.log1p(-pr)
        sub = net.log1m_q[:, live]
        leak = net.log1m_leak + net.log1m_q[:, on].sum(axis=1)
        pos_r = pos[r][pos[r] >= 0]
        neg_r = np.flatnonzero(neg[r])
        log_absent_pos = leak[pos_r][None, :] + configs @ sub[pos_r].T
        log_absent_neg = leak[neg_r][None, :] + configs @ sub[neg_r].T
        with np.errstate(divide="ignore"):  # a finding without a leak is impossible when off
            log_like = np.log1p(-np.exp(log_absent_pos)).sum(axis=1) + log_absent_neg.sum(axis=1)
        log_joint = log_pc + log_like
        m = log_joint.max()
        if not np.isfinite(m):  # impossible evidence: no posterior
            post[r], log_z[r] = np.nan, -np.inf
            continue
        w = np.exp(log_joint - m)
        z = w.sum()
        log_z[r] = np.log(z) + m
        post[r, live] = (w @ configs) / z
        post[r, on] = 1.0
    return post, log_z


def _groups(counts: IntArray, mask: BoolArray) -> list[tuple[int, IntArray]]:
    """Batch rows by number of present findings; rows within 2 of each other share a batch
    (padding costs at most 4x the work but saves a kernel call)."""
    out: list[tuple[int, IntArray]] = []
    ks = sorted(int(k) for k in np.unique(counts[mask]))
    while ks:
        lo = ks[0]
        group = [k for k in ks if k <= lo + 2]
        ks = ks[len(group) :]
        rows = np.flatnonzero(mask & (counts >= lo) & (counts <= group[-1]))
        out.append((group[-1], rows))
    return out


def padded_present(net: Network, pos: IntArray) -> list[tuple[IntArray, IntArray]]:
    """Rows grouped for the subset kernels: ``(sel, rows)`` with ``sel`` the rows' present
    indices first, padded to the group's ``k`` columns with the neutral finding (index ``m``,
    always present, so subsets containing it contribute exactly zero)."""
    if pos.shape[0] == 1:  # one case: no grouping to do
        present = pos[0][pos[0] >= 0]
        return [(present[None, :], np.zeros(1, dtype=np.int64))]
    out: list[tuple[IntArray, IntArray]] = []
    counts = (pos >= 0).sum(axis=1)
    for k, rows in _groups(counts, np.ones(pos.shape[0], dtype=np.bool_)):
        sel = pos[rows]
        order = np.argsort(sel < 0, axis=1, kind="stable")
        sel = np.take_along_axis(sel, order, axis=1)
        if sel.shape[1] < k:
            sel = np.pad(sel, ((0, 0), (0, k - sel.shape[1])), constant_values=-1)
        out.append((np.where(sel[:, :k] < 0, net.n_findings, sel[:, :k]), rows))
    return out


def _extended_quickscore(
    net: Network, prior: FloatArray, pos: IntArray, neg: BoolArray, exact_log_z: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    return _quickscore(net, prior, pos, neg, np.longdouble, exact_log_z)


def _rarest_first(net: Network, prior: FloatArray, sel: IntArray, neg: BoolArray) -> IntArray:
    """``sel`` with each row's present findings ordered rarest first: by ``P(f absent)`` under
    the priors updated by the absent findings (padding, which is never rare, goes last)."""
    log1m_q = np.vstack([net.log1m_q, np.zeros((1, net.n_causes))])
    log1m_leak = np.append(net.log1m_leak, _NEUTRAL)
    b = np.pad(neg, ((0, 0), (0, 1))).astype(np.float64) @ log1m_q  # (N, n)
    on = prior * np.exp(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(on / ((1 - prior) + on))
    log_absent = log1m_leak[sel] + np.log1p(r[:, None, :] * np.expm1(log1m_q[sel])).sum(axis=2)
    order = np.argsort(-log_absent, axis=1, kind="stable")
    return np.take_along_axis(sel, order, axis=1)


def _probe(
    net: Network, prior: FloatArray, sel: IntArray, neg: BoolArray, exact_log_z: bool
) -> tuple[FloatArray, FloatArray]:
    """Rounding bounds of the plain and the differential signed sums over the ``_PROBE`` rarest
    present findings of each row: a cheap forecast for the full rows. Adding a present finding
    only adds terms to ``sum |terms|`` and lowers ``P(evidence)``, so the likelihood part of each
    bound can only grow with the full set; rows whose probe already fails skip that route."""
    sub = _rarest_first(net, prior, sel, neg)[:, :_PROBE]
    _, _, e_plain = _quickscore(net, prior, sub, neg, exact_log_z=exact_log_z)
    _, _, e_diff = _differential(net, prior, sub, neg, exact_log_z)
    return e_plain, e_diff


def single_parent_terms(
    net: Network, prior: FloatArray, pos: IntArray
) -> tuple[BoolArray, IntArray, FloatArray, FloatArray]:
    """Per row and present column: whether the finding has at most one uncertain parent (prior
    strictly between 0 and 1), that parent (-1: none), and ``log g(0)``, ``log g(1)``: the
    finding's log-probability of being present with that parent off and on. A cause with prior
    0 or 1 is settled: ``g(c_j) = 1 - (1 - leak) prod_{settled on} (1 - q) (1 - q_j)^{c_j}``."""
    valid = pos >= 0
    idx = np.where(valid, pos, 0)
    lq = net.log1m_q[idx]  # (N, K, n)
    linked = lq < 0
    live = linked & ((prior > 0) & (prior < 1))[:, None, :]
    n_live = live.sum(axis=2)
    take = valid & (n_live <= 1)
    parent = np.where(take & (n_live == 1), live.argmax(axis=2), -1)
    base = net.log1m_leak[idx] + np.where(linked & (prior >= 1)[:, None, :], lq, 0.0).sum(axis=2)
    lq_j = np.where(live, lq, 0.0).sum(axis=2)
    with np.errstate(divide="ignore"):
        log_g0 = np.where(take, np.log(-np.expm1(base)), 0.0)
        log_g1 = np.where(take, np.log(-np.expm1(base + lq_j)), 0.0)
    return take, parent, log_g0, log_g1


def absorbed_priors(
    prior: FloatArray, take: BoolArray, parent: IntArray, log_g0: FloatArray, log_g1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The priors with the ``take`` findings multiplied in (``single_parent_terms``), and the log
    normalisers ``log P(evidence)`` gains (-inf where a finding is impossible)."""
    n = prior.shape[1]
    single = (take & (parent >= 0))[:, :, None] & (parent[:, :, None] == np.arange(n))
    l0 = np.where(single, log_g0[:, :, None], 0.0).sum(axis=1)  # (N, n)
    l1 = np.where(single, log_g1[:, :, None], 0.0).sum(axis=1)
    touched = single.any(axis=1)
    constant = np.where(take & (parent < 0), log_g0, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        on = np.log(prior) + l1
        off = np.log1p(-prior) + l0
        log_norm = np.where(touched, np.logaddexp(on, off), 0.0)
        new_prior = np.where(touched, np.exp(on - log_norm), prior)
    return new_prior, log_norm.sum(axis=1) + constant


def absorb_single_parents(
    net: Network, prior: FloatArray, pos: IntArray
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Present findings with at most one uncertain parent, taken out of the signed sums.

    Such a finding's likelihood is a function of one cause ``j`` alone, or a constant
    (``single_parent_terms``): multiplying it into ``j``'s prior and renormalising is exact
    (Bayes on one binary variable), and it removes a factor of two from Quickscore's ``2^k`` per
    finding, together with the cancellation a rare one would cause. Returns the new priors,
    ``pos`` with those findings replaced by -1, and the log normalisers that ``log P(evidence)``
    gains. Rows where such a finding is impossible are left unchanged, with a log normaliser of
    -inf.
    """
    if not (pos >= 0).any():
        return prior, pos, np.zeros(prior.shape[0])
    take, parent, log_g0, log_g1 = single_parent_terms(net, prior, pos)
    if not take.any():
        return prior, pos, np.zeros(prior.shape[0])
    new_prior, log_add = absorbed_priors(prior, take, parent, log_g0, log_g1)
    ok = np.isfinite(log_add)
    if not ok.all():  # impossible evidence: those rows keep their findings, log_add is -inf
        new_prior = np.where(ok[:, None], new_prior, prior)
        take = take & ok[:, None]
        log_add = np.where(ok, log_add, -np.inf)
    return new_prior, np.where(take, -1, pos), log_add


def _signed_sums(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    tolerance: float | FloatArray,
    exact_log_z: bool = True,
    plain: bool = True,
    plain_err: FloatArray | None = None,
    extended: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quickscore for every row (float64, then where rounding bites the differential form and
    extended precision). ``plain=False`` skips the plain pass (callers that know it fails);
    ``extended=False`` the extended-precision pass (callers with a cheaper route next).

    Routes that are bound to fail are skipped: rows with more than ``_PROBE`` present findings
    are first probed on their rarest ones (``_probe``), and extended precision is only tried
    where the float64 bound, scaled by the ratio of the two epsilons, could meet ``tolerance``
    (the same terms cancel the same way in both precisions). ``tolerance`` may be given per row;
    ``plain_err``: the rows' float64 plain bounds, where the caller already has them.
    """
    n_rows = prior.shape[0]
    per_row = np.ndim(tolerance) > 0
    post = np.zeros_like(prior)
    log_z = np.zeros(n_rows)
    err = np.full(n_rows, np.inf)
    for sel, rows in padded_present(net, pos):
        n_sel = len(rows)
        tol = np.asarray(tolerance)[rows] if per_row else tolerance
        if plain and sel.shape[1] <= _PROBE:  # the common case: no probe, a plain pass first
            p_rows, lz_rows, e_rows = _quickscore(
                net, prior[rows], sel, neg[rows], exact_log_z=exact_log_z
            )
            if (e_rows <= tol).all():
                post[rows], log_z[rows], err[rows] = p_rows, lz_rows, e_rows
                continue
            e_plain = e_rows.copy()
            try_plain = np.zeros(n_sel, dtype=np.bool_)  # done
        else:
            p_rows, lz_rows = np.zeros((n_sel, net.n_causes)), np.zeros(n_sel)
            e_rows = np.full(n_sel, np.inf)
            # the float64 plain bound where known (0: unknown, so extended precision is tried)
            e_plain = np.zeros(n_sel) if plain_err is None else plain_err[rows].copy()
            try_plain = np.full(n_sel, plain)
        try_diff = np.ones(n_sel, dtype=np.bool_)
        if sel.shape[1] > _PROBE:
            probe_plain, probe_diff = _probe(net, prior[rows], sel, neg[rows], exact_log_z)
            try_plain &= probe_plain <= tol
            try_diff &= probe_diff <= tol
            # a failed probe only bounds the full sum's bound from below: no extended precision
            # (a 2^k pass in it costs more than conditioning)
            e_plain = np.where(probe_plain <= tol, e_plain, np.inf)
        idx = np.flatnonzero(try_plain)
        if idx.size:
            p2, lz2, e2 = _quickscore(
                net, prior[rows[idx]], sel[idx], neg[rows[idx]], exact_log_z=exact_log_z
            )
            p_rows[idx], lz_rows[idx], e_rows[idx], e_plain[idx] = p2, lz2, e2, e2
        # where rounding bites: the rarest finding in differential form, then extended precision
        # (tried up to twice the tolerance: the scaled float64 bound is only an estimate)
        hopeful = (e_plain * _EXTENDED_GAIN <= 2 * tol) & extended
        for retry, allowed in ((_differential, try_diff), (_extended_quickscore, hopeful)):
            idx = np.flatnonzero((e_rows > tol) & allowed)
            if idx.size == 0:
                continue
            p2, lz2, e2 = retry(net, prior[rows[idx]], sel[idx], neg[rows[idx]], exact_log_z)
            better = e2 < e_rows[idx]
            idx, p2, lz2, e2 = idx[better], p2[better], lz2[better], e2[better]
            p_rows[idx], lz_rows[idx], e_rows[idx] = p2, lz2, e2
        post[rows], log_z[rows], err[rows] = p_rows, lz_rows, e_rows
    return post, log_z, err


def clamp_choice(
    net: Network, prior: FloatArray, present: IntArray, limit: int
) -> tuple[IntArray, IntArray]:
    """For conditioning: the positions in ``present`` of the findings to take out of the signed
    sum (fewest parents first) and their uncertain parents to clamp, at most ``limit`` of them
    (a cause with prior 0 or 1 is settled already)."""
    live = np.flatnonzero((prior > 0) & (prior < 1))
    parents = net.log1m_q[np.ix_(present, live)] < 0  # (k, L)
    clamped: set[int] = set()
    direct: list[int] = []
    for i in sorted(range(len(present)), key=lambda i: int(parents[i].sum())):
        grown = clamped | {int(live[j]) for j in np.flatnonzero(parents[i])}
        if len(grown) <= limit:
            clamped, direct = grown, [*direct, i]
    return np.array(direct, dtype=np.int64), np.array(sorted(clamped), dtype=np.int64)


def _row_tolerances(
    net: Network,
    rows: FloatArray,
    neg: BoolArray,
    log_w: FloatArray,
    lz_in: FloatArray,
    e_in: FloatArray,
    tolerance: float,
) -> FloatArray:
    """Per inner row of ``_conditioned``: the rounding bound that row may keep. Row ``r`` enters
    the result with weight ``w_r P_r / Z``; ``w_r P(absent findings | r)`` bounds its numerator
    from above and the rows already settled (bound <= 1/2) bound ``Z`` from below, so rows whose
    share is small may keep a larger bound. Only a forecast: ``_conditioned`` computes the bound
    of the result from the errors the rows end with."""
    base_c = neg.astype(np.float64) @ net.log1m_q  # (n,)
    base_l = float(neg.astype(np.float64) @ net.log1m_leak)
    with np.errstate(divide="ignore"):
        log_upper = log_w + base_l + np.log((1 - rows) + rows * np.exp(base_c)).sum(axis=1)
    settled = (e_in <= 0.5) & np.isfinite(lz_in) & np.isfinite(log_w)
    if not settled.any():
        return np.full(rows.shape[0], tolerance)
    top = float(np.max(log_upper[np.isfinite(log_upper)]))
    z_low = float((np.exp(log_w[settled] + lz_in[settled] - top) * (1 - e_in[settled])).sum())
    with np.errstate(divide="ignore", over="ignore"):
        share = np.exp(log_upper - top) / z_low  # >= the row's weight in the result
        loose = tolerance / (4 * rows.shape[0] * share)
    return np.asarray(
        np.maximum(tolerance, np.nan_to_num(loose, nan=tolerance, posinf=np.inf)), dtype=np.float64
    )


def _conditioned(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    tolerance: float,
    a: IntArray | None = None,
) -> tuple[FloatArray, float, float]:
    """One row, exactly, with the causes ``a`` clamped (by default the first of ``_clamp_sets``).

    Quickscore loses digits when present findings are very unlikely (a far-out lab value), and
    costs ``2^k``. Enumerating the 2^|a| states of the causes ``a`` leaves every present finding
    with at most one unclamped uncertain parent a plain factor (``absorb_single_parents``), so
    only the rest go through the inner signed sums. The outer sum has positive terms only, so
    nothing cancels there.
    """
    present = pos[pos >= 0]
    if a is None:
        a = next(_clamp_sets(net, prior, present), np.zeros(0, dtype=np.int64))
    if len(a) == 0:
        return np.full(prior.shape, np.nan), np.nan, np.inf
    bits, _ = subset_masks(len(a), 0, 1 << len(a))
    clamped = np.tile(prior, (len(bits), 1))
    clamped[:, a] = bits
    with np.errstate(divide="ignore"):
        log_w = bits @ np.log(prior[a]) + (1 - bits) @ np.log1p(-prior[a])
    rows, inner_pos, log_add = absorb_single_parents(
        net, clamped, np.tile(present if len(present) else [-1], (len(bits), 1))
    )
    log_w = log_w + log_add  # -inf where clamping makes a finding impossible: weight 0
    inner_neg = np.tile(neg, (len(bits), 1))
    # The outer sum weighs each inner row's error by its share of P(evidence): a plain pass
    # first, then each row is refined only as far as its share needs (``_row_tolerances``);
    # small tables go straight to ``tolerance``.
    small = len(bits) << int((inner_pos >= 0).sum(axis=1).max()) <= _SMALL_TABLE
    p_in, lz_in, e_in = _signed_sums(
        net, rows, inner_pos, inner_neg, tolerance if small else np.inf
    )
    tol_in = (
        np.full(len(bits), tolerance)
        if small
        else _row_tolerances(net, rows, neg, log_w, lz_in, e_in, tolerance)
    )
    e_plain = e_in.copy()
    # if the shares were misjudged, every row is held to ``tolerance`` itself, and extended
    # precision may help even where it cannot settle a row on its own (a smaller bound counts)
    for tol, known in ((tol_in, e_plain), (np.full(len(bits), tolerance), None)):
        redo = np.flatnonzero(e_in > tol)
        if redo.size:
            p2, lz2, e2 = _signed_sums(
                net,
                rows[redo],
                inner_pos[redo],
                inner_neg[redo],
                tol[redo],
                plain=False,
                plain_err=None if known is None else known[redo],
            )
            better = e2 < e_in[redo]
            redo = redo[better]
            p_in[redo], lz_in[redo], e_in[redo] = p2[better], lz2[better], e2[better]
        total = log_w + lz_in
        top = np.max(total[np.isfinite(total)], initial=-np.inf)
        if not np.isfinite(top):
            return np.full(prior.shape, np.nan), -np.inf, np.inf
        w = np.exp(total - top)
        z = w.sum()
        used = w > 0
        err = (
            2 * float((w[used] * e_in[used]).sum() / z)
            if np.all(np.isfinite(e_in[used]))
            else np.inf
        )
        if err <= tolerance:
            break
    return (w @ np.where(used[:, None], p_in, 0.0)) / z, float(np.log(z) + top), err


def _clamp_sets(net: Network, prior: FloatArray, present: IntArray) -> Iterator[IntArray]:
    """Causes to clamp for ``_conditioned``, in the order to try them.

    Causes are added greedily, each time the one that leaves the fewest present findings with two
    or more unclamped uncertain parents (the findings the inner signed sums must still take;
    ties go to the cause with most such children). First the set with the least work
    (``2^|a| * 2^inner``) among those that leave at most ``_INNER_FINDINGS`` (inner sums that
    short cancel little), then the cheapest that leaves fewer, for when the first one's bound
    fails.
    """
    live = (prior > 0) & (prior < 1)
    free = (net.log1m_q[present] < 0) & live[None, :]  # (k, n)
    chosen: list[int] = []
    options: list[tuple[int, int, tuple[int, ...]]] = []  # (inner, work, clamped)
    for _ in range(min(_MAX_CONDITIONED, int(live.sum()))):
        inner_now = free.sum(axis=1) >= 2
        if not inner_now.any():
            break
        # inner findings left if cause j were clamped too, per j
        counts = free.sum(axis=1)[:, None] - free  # (k, n)
        left = ((counts >= 2) & inner_now[:, None]).sum(axis=0)
        weight = (free & inner_now[:, None]).sum(axis=0)
        score = np.where(weight > 0, left * (len(present) + 1) - weight, np.iinfo(np.int64).max)
        j = int(np.argmin(score))
        chosen.append(j)
        free[:, j] = False
        inner = int((free.sum(axis=1) >= 2).sum())
        options.append((inner, len(chosen) + inner, tuple(sorted(chosen))))
    if not options:
        return
    few = [o for o in options if o[0] <= _INNER_FINDINGS]
    if not few:
        yield np.array(min(options)[2], dtype=np.int64)
        return
    first = min(few, key=lambda o: (o[1], o[0]))
    yield np.array(first[2], dtype=np.int64)
    fewer = [o for o in options if o[0] < first[0]]
    if fewer:
        yield np.array(min(fewer, key=lambda o: (o[1], o[0]))[2], dtype=np.int64)


def infer(
    net: Network,
    prior: FloatArray,
    pos: IntArray,
    neg: BoolArray,
    *,
    tolerance: float = TOLERANCE,
    exact_log_z: bool = True,
    plain: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Exact posteriors for a batch.

    ``prior``: (N, n) cause priors; ``pos``: (N, K) indices of present findings, padded with -1;
    ``neg``: (N, m) mask of findings observed absent. Returns the (N, n) posteriors
    ``P(C_j = 1 | evidence)`` and the (N,) log-likelihood ``log P(evidence)``, exact to
    ``tolerance`` (absolute; callers that only rank, like the information-gain search, may pass
    a looser one).

    Rows whose signed sum cannot be trusted to ``tolerance`` even in extended precision are
    recomputed by conditioning on the parents of their rarest present findings, and, failing
    that, by enumerating the cause configurations. ``exact_log_z=False``: only the posteriors are
    used, so the log-likelihoods are not held to the tolerance. ``plain=False``: start from the
    first fallback (for callers whose own signed sum already failed on these rows).
    """
    prior = np.asarray(prior, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.int64).reshape(prior.shape[0], -1)
    neg = np.asarray(neg, dtype=np.bool_)
    prior, pos, log_add = absorb_single_parents(net, prior, pos)
    log_add[~np.isfinite(log_add)] = 0.0  # impossible evidence: the signed sums report it
    # rows with many present findings left go to conditioning first (a few thousand inner
    # terms, where a 2^k signed sum, or even its probe, costs more); extended precision (a 2^k
    # pass in longdouble) also comes after conditioning
    crowded = (pos >= 0).sum(axis=1) > _PROBE
    post = np.full(prior.shape, np.nan)
    log_z = np.full(prior.shape[0], np.nan)
    err = np.full(prior.shape[0], np.inf)
    easy = np.flatnonzero(~crowded)
    if easy.size:
        post[easy], log_z[easy], err[easy] = _signed_sums(
            net, prior[easy], pos[easy], neg[easy], tolerance, exact_log_z, plain, extended=False
        )
    for r in np.flatnonzero(err > tolerance):
        p_r, lz_r, e_r = np.full(prior.shape[1], np.nan), np.nan, np.inf
        for a in _clamp_sets(net, prior[r], pos[r][pos[r] >= 0]):
            p_c, lz_c, e_c = _conditioned(net, prior[r], pos[r], neg[r], tolerance, a)
            if e_c < e_r:
                p_r, lz_r, e_r = p_c, lz_c, e_c
            if e_r <= tolerance:
                break
        if e_r > tolerance and crowded[r]:  # the signed sums, probed, after all
            p_s, lz_s, e_s = _signed_sums(
                net,
                prior[r : r + 1],
                pos[r : r + 1],
                neg[r : r + 1],
                tolerance,
                exact_log_z,
                plain,
                extended=False,
            )
            if e_s[0] < e_r:
                p_r, lz_r, e_r = p_s[0], float(lz_s[0]), float(e_s[0])
        if e_r > tolerance and int((pos[r] >= 0).sum()) <= _PROBE:
            p_x, lz_x, e_x = _extended_quickscore(
                net, prior[r : r + 1], padded_present(net, pos[r : r + 1])[0][0], neg[r : r + 1]
            )
            if e_x[0] < e_r:
                p_r, lz_r, e_r = p_x[0], float(lz_x[0]), float(e_x[0])
        if e_r > tolerance and int((prior[r] > 0).sum()) <= _MAX_ENUMERATED:
            p_e, lz_e = _enumerate(net, prior[r : r + 1], pos[r : r + 1], neg[r : r + 1])
            p_r, lz_r, e_r = p_e[0], float(lz_e[0]), 0.0
        if e_r <= err[r]:
            post[r], log_z[r], err[r] = p_r, lz_r, e_r
    return post, log_z + log_add
