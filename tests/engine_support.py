"""Random noisy-OR networks and a plain-Python brute-force oracle, shared by the engine tests."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import strategies as st

from b12dx.engine import Network


def make_net(leak: np.ndarray, q: np.ndarray) -> Network:
    m, n = q.shape
    return Network(
        tuple(f"c{j}" for j in range(n)),
        tuple(f"f{i}" for i in range(m)),
        {f"c{j}": j for j in range(n)},
        {f"f{i}": i for i in range(m)},
        np.log1p(-leak),
        np.log1p(-q),
        {},
    )


def brute_force(leak, q, prior, pos, neg):
    """P(C_j | evidence) by summing over every cause configuration, in plain Python."""
    n = q.shape[1]
    z = 0.0
    num = [0.0] * n
    for config in itertools.product((0, 1), repeat=n):
        p = 1.0
        for j, on in enumerate(config):
            p *= prior[j] if on else 1 - prior[j]
        for i in list(pos) + list(neg):
            # log P(absent) summed in log1p terms: 1 - absent would lose the digits of a rare
            # finding (leak and links near 0)
            log_absent = math.log1p(-leak[i]) + sum(
                math.log1p(-q[i, j]) for j, on in enumerate(config) if on
            )
            p *= -math.expm1(log_absent) if i in pos else math.exp(log_absent)
        z += p
        for j, on in enumerate(config):
            if on:
                num[j] += p
    return np.array(num) / z, np.log(z)


@st.composite
def networks(draw, max_causes=5, max_findings=7, rare=True):
    n = draw(st.integers(1, max_causes))
    m = draw(st.integers(1, max_findings))
    prob = st.floats(0.001, 0.95)
    if rare:  # rare findings too (leaks down to 1e-6; the KB's smallest is 5e-4)
        prob = st.one_of(prob, st.sampled_from((1e-6, 1e-5, 1e-4)))
    leak = np.array(draw(st.lists(prob, min_size=m, max_size=m)))
    q = np.array(
        draw(
            st.lists(st.lists(st.floats(0.0, 0.99), min_size=n, max_size=n), min_size=m, max_size=m)
        )
    )
    mask = np.array(
        draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=m, max_size=m))
    )
    q = q * mask
    prior = np.array(draw(st.lists(st.floats(0.0005, 0.95), min_size=n, max_size=n)))
    states = draw(
        st.lists(st.sampled_from(("present", "absent", "unknown")), min_size=m, max_size=m)
    )
    pos = [i for i, s in enumerate(states) if s == "present"]
    neg = [i for i, s in enumerate(states) if s == "absent"]
    return leak, q, prior, pos, neg


@st.composite
def settled_networks(draw):
    """Networks where some causes are settled (prior 0 or 1, as sex- or history-bound causes
    are) and some findings have no leak: findings with at most one uncertain parent are then
    absorbed into that parent's prior instead of entering the signed sums."""
    leak, q, prior, pos, neg = draw(networks(max_causes=6, max_findings=8))
    settle = draw(
        st.lists(st.sampled_from((None, 0.0, 1.0)), min_size=len(prior), max_size=len(prior))
    )
    prior = np.array([p if s is None else s for p, s in zip(prior, settle, strict=True)])
    no_leak = draw(st.lists(st.booleans(), min_size=len(leak), max_size=len(leak)))
    leak = np.where(no_leak, 0.0, leak)
    # without a leak a finding's probability can be one tiny link strength, which the
    # plain-Python oracle computes as 1 - (1 - q) and would itself lose digits for
    q = np.where(q > 0, np.maximum(q, 1e-3), 0.0)
    return leak, q, prior, pos, neg


@st.composite
def crowded_networks(draw, max_causes=6):
    """Many present findings (more than the probe's ``_PROBE``), some of them rare (small leak,
    weak links): the plain signed sum cancels, so the probe, the skipped retries and the
    share-weighted conditioning all run."""
    n = draw(st.integers(2, max_causes))
    k = draw(st.integers(9, 13))
    m = k + 2
    rare = st.sampled_from((1e-6, 1e-4, 1e-3, 0.05))
    leak = np.array(draw(st.lists(rare, min_size=m, max_size=m)))
    q = np.array(
        draw(
            st.lists(
                st.lists(
                    st.sampled_from((0.0, 0.0, 0.002, 0.05, 0.3, 0.9)), min_size=n, max_size=n
                ),
                min_size=m,
                max_size=m,
            )
        )
    )
    prior = np.array(draw(st.lists(st.floats(0.001, 0.3), min_size=n, max_size=n)))
    return leak, q, prior, list(range(k)), [k, k + 1]
