"""``infer_variants`` equals ``infer`` (and brute force) on the explicitly changed rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12dx import variants as V
from b12dx.engine import infer
from b12dx.variants import Variant, infer_variants
from engine_support import brute_force, crowded_networks, make_net, networks, settled_networks


@st.composite
def variant_lists(draw, n_causes: int, n_findings: int, present: list[int], absent: list[int]):
    finding = st.integers(0, n_findings - 1)
    out = []
    for _ in range(draw(st.integers(1, 6))):
        add_pos = tuple(sorted(set(draw(st.lists(finding, max_size=2)))))
        add_neg = tuple(sorted(set(draw(st.lists(finding, max_size=3)))))
        drop_pos = (
            tuple(i for i in draw(st.lists(st.sampled_from(present), max_size=2)) if present)
            if present
            else ()
        )
        drop_pos = tuple(sorted(set(drop_pos) - set(add_pos)))
        drop_neg = (
            tuple(sorted(set(draw(st.lists(st.sampled_from(absent), max_size=2))) - set(add_neg)))
            if absent
            else ()
        )
        shift = tuple(
            (draw(st.integers(0, n_causes - 1)), draw(st.floats(-3, 3)))
            for _ in range(draw(st.integers(0, 2)))
        )
        out.append(Variant(add_pos, add_neg, drop_pos, drop_neg, shift))
    return out


def explicit(net, prior, pos, neg, variant):
    p, ps, ng = variant.apply(prior, pos, neg)
    post, log_z = infer(net, p[None, :], ps[None, :], ng[None, :])
    return post[0], log_z[0], p, [int(i) for i in ps if i >= 0], list(np.flatnonzero(ng))


def encode_row(m, pos, neg, pad=1):
    p = np.array(pos + [-1] * pad, dtype=np.int64)
    n_mask = np.zeros(m, dtype=bool)
    n_mask[neg] = True
    return p, n_mask


@settings(max_examples=200, deadline=None)
@given(st.data(), networks())
def test_variants_equal_infer_and_brute_force(data, case):
    leak, q, prior, pos, neg = case
    net = make_net(leak, q)
    vs = data.draw(variant_lists(len(prior), len(leak), pos, neg))
    p, n_mask = encode_row(len(leak), pos, neg)
    post, log_z = infer_variants(net, prior[None, :], p[None, :], n_mask[None, :], vs)
    for v, var in enumerate(vs):
        e_post, e_lz, e_prior, e_pos, e_neg = explicit(net, prior, p, n_mask, var)
        if set(e_pos) & set(e_neg):
            # A finding both present and absent has no posterior (no case gives one; the only
            # source is the screening kernel's variants of tests already done, which it masks):
            # with rare findings the two paths' cancellation noise differs by 1.3e-9.
            continue
        np.testing.assert_allclose(post[0, v], e_post, atol=1e-9, rtol=0)
        if np.isfinite(e_lz):
            assert abs(log_z[0, v] - e_lz) < 1e-9
            b_post, b_lz = brute_force(leak, q, e_prior, e_pos, e_neg)
            np.testing.assert_allclose(post[0, v], b_post, atol=1e-9, rtol=0)
            assert abs(log_z[0, v] - b_lz) < 1e-9


# Leaks of at least 1e-3: this test also compares contradictory rows (a finding both present
# and absent, which no case can give) with ``infer``, and with rarer findings two float64
# answers to such a row drift apart by ~1e-9; the test above covers rare findings on real rows.
@settings(max_examples=150, deadline=None)
@given(st.data(), networks(rare=False), st.sampled_from([1e-300, float("inf")]))
def test_either_first_kernel_equals_infer(data, case, predicted_miss):
    """The first pass runs the plain or the differential kernel by a rough prediction; forced
    either way (1e-300: every row differential, inf: every row plain), the answers are the same."""
    leak, q, prior, pos, neg = case
    net = make_net(leak, q)
    vs = data.draw(variant_lists(len(prior), len(leak), pos, neg))
    p, n_mask = encode_row(len(leak), pos, neg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(V, "_PREDICTED_MISS", predicted_miss)
        post, log_z = infer_variants(net, prior[None, :], p[None, :], n_mask[None, :], vs)
    for v, var in enumerate(vs):
        e_post, e_lz, *_ = explicit(net, prior, p, n_mask, var)
        np.testing.assert_allclose(post[0, v], e_post, atol=1e-9, rtol=0)
        if np.isfinite(e_lz):
            assert abs(log_z[0, v] - e_lz) < 1e-9


@settings(max_examples=50, deadline=None)
@given(st.data(), st.lists(networks(max_causes=4, max_findings=6), min_size=1, max_size=1))
def test_batch_rows_equal_single_rows(data, cases):
    """Rows with different numbers of present findings in one batch give their own answers."""
    leak, q, _, _, _ = cases[0]
    net = make_net(leak, q)
    m, n = q.shape
    rows = []
    for _ in range(data.draw(st.integers(2, 5))):
        prior = np.array(data.draw(st.lists(st.floats(0.001, 0.9), min_size=n, max_size=n)))
        states = data.draw(st.lists(st.sampled_from("+-?"), min_size=m, max_size=m))
        rows.append(
            (
                prior,
                [i for i, s in enumerate(states) if s == "+"],
                [i for i, s in enumerate(states) if s == "-"],
            )
        )
    vs = [Variant(add_pos=(0,)), Variant(add_neg=(m - 1,)), Variant(shift=((0, 1.0),))]
    k = max(len(r[1]) for r in rows) + 1
    prior = np.stack([r[0] for r in rows])
    pos = np.stack([encode_row(m, r[1], r[2], pad=k - len(r[1]))[0] for r in rows])
    neg = np.stack([encode_row(m, r[1], r[2])[1] for r in rows])
    post, log_z = infer_variants(net, prior, pos, neg, vs)
    for r, row in enumerate(rows):
        p, n_mask = encode_row(m, row[1], row[2])
        one, one_lz = infer_variants(net, row[0][None, :], p[None, :], n_mask[None, :], vs)
        np.testing.assert_allclose(post[r], one[0], atol=1e-10, rtol=0)
        np.testing.assert_allclose(log_z[r], one_lz[0], atol=1e-10, rtol=0)


@pytest.mark.parametrize("exact_log_z", [True, False])
def test_far_out_evidence_goes_through_conditioning(exact_log_z):
    """Very unlikely present findings defeat the signed sums; the variants stay exact (the
    posteriors always; the log-likelihoods when asked for)."""
    rng = np.random.default_rng(5)
    n, m = 8, 11
    leak = np.full(m, 1e-7)
    q = np.zeros((m, n))
    for i in range(m):
        q[i, rng.choice(n, size=rng.integers(1, 3), replace=False)] = rng.uniform(0.001, 0.02)
    prior = rng.uniform(0.001, 0.01, n)
    pos, neg = list(range(7)), [7, 8]
    net = make_net(leak, q)
    p, n_mask = encode_row(m, pos, neg, pad=0)
    vs = [
        Variant(add_pos=(9,), add_neg=(10,)),
        Variant(add_neg=(9, 10)),
        Variant(drop_pos=(0,)),
        Variant(drop_neg=(7,)),
        Variant(shift=((int(np.flatnonzero(q[0])[0]), -1.5),)),
    ]
    plan = V._plan(net, vs)
    sel = V.padded_present(net, p[None, :])[0][0]
    acc = V._Accuracy(np.full(len(vs), 1e-10), np.ones(len(vs), bool), np.zeros(len(vs)))
    _, _, err = V._kernel(net, plan, prior[None, :], sel, n_mask[None, :], np.float64, acc)
    assert (err > 1e-10).all()  # the plain signed sums cannot be trusted here
    post, log_z = infer_variants(
        net, prior[None, :], p[None, :], n_mask[None, :], vs, exact_log_z=exact_log_z
    )
    for v, var in enumerate(vs):
        e_prior, e_pos, e_neg = var.apply(prior, p, n_mask)
        b_post, b_lz = brute_force(
            leak, q, e_prior, [int(i) for i in e_pos if i >= 0], list(np.flatnonzero(e_neg))
        )
        np.testing.assert_allclose(post[0, v], b_post, atol=1e-9, rtol=0)
        if exact_log_z:
            assert abs(log_z[0, v] - b_lz) < 1e-9


def test_a_variant_cannot_add_and_drop_the_same_observation():
    with pytest.raises(ValueError, match="both add and drop"):
        Variant(add_pos=(1,), drop_pos=(1,))
    with pytest.raises(ValueError, match="both add and drop"):
        Variant(add_neg=(2,), drop_neg=(2,))


def test_no_variants_or_rows():
    net = make_net(np.array([0.01]), np.array([[0.5]]))
    post, log_z = infer_variants(
        net, np.array([[0.1]]), np.array([[0]]), np.zeros((1, 1), bool), []
    )
    assert post.shape == (1, 0, 1) and log_z.shape == (1, 0)


@settings(max_examples=60, deadline=None)
@given(networks(max_causes=5, max_findings=8))
def test_outcome_weighted_tolerance_bounds_the_expectation(case):
    """With ``outcome_of``, each outcome is exact to tolerance / P(outcome), so expectations over
    a test's outcomes are as exact as with the plain tolerance."""
    leak, q, prior, pos, neg = case
    m = len(leak)
    net = make_net(leak, q)
    free = [i for i in range(m) if i not in pos and i not in neg]
    if len(free) < 2:
        return
    a, b = free[:2]
    vs = [Variant(add_pos=(a,), add_neg=(b,)), Variant(add_pos=(b,), add_neg=(a,))]
    vs.append(Variant(add_neg=(a, b)))
    p, n_mask = encode_row(m, pos, neg)
    tol = 1e-6
    post, log_z = infer_variants(
        net, prior[None, :], p[None, :], n_mask[None, :], vs, tolerance=tol, outcome_of=[0, 0, 0]
    )
    exact = [explicit(net, prior, p, n_mask, v) for v in vs]
    lz = np.array([e[1] for e in exact])
    weight = np.exp(lz - lz.max()) / np.exp(lz - lz.max()).sum()
    for v in range(len(vs)):
        assert weight[v] * np.abs(post[0, v] - exact[v][0]).max() <= 2 * tol
    got = np.exp(log_z[0] - log_z[0].max()) / np.exp(log_z[0] - log_z[0].max()).sum()
    np.testing.assert_allclose(got, weight, atol=1e-6)
    np.testing.assert_allclose(got @ post[0], weight @ np.stack([e[0] for e in exact]), atol=1e-5)


@settings(max_examples=100, deadline=None)
@given(st.data(), networks())
def test_logit_tolerance_holds_each_posterior_or_its_log_odds(data, case):
    """With ``logit_tolerance`` each posterior is exact to the tolerance or its log-odds to the
    logit tolerance (what the explanation needs); without it, to the tolerance."""
    leak, q, prior, pos, neg = case
    net = make_net(leak, q)
    vs = data.draw(variant_lists(len(prior), len(leak), pos, neg))
    p, n_mask = encode_row(len(leak), pos, neg)
    post, _ = infer_variants(
        net,
        prior[None, :],
        p[None, :],
        n_mask[None, :],
        vs,
        tolerance=1e-10,
        exact_log_z=False,
        logit_tolerance=1e-6,
    )
    for v, var in enumerate(vs):
        e_prior, e_pos, e_neg = var.apply(prior, p, n_mask)
        e_pos = [int(i) for i in e_pos if i >= 0]
        if set(e_pos) & set(np.flatnonzero(e_neg).tolist()):
            continue  # contradictory evidence: no brute-force twin
        b_post, _ = brute_force(leak, q, e_prior, e_pos, list(np.flatnonzero(e_neg)))
        for got, want in zip(post[0, v], b_post, strict=True):
            if abs(got - want) <= 1e-9:
                continue
            logit = lambda x: np.log(x) - np.log1p(-x)  # noqa: E731
            assert abs(logit(got) - logit(want)) <= 1e-5


@settings(max_examples=200, deadline=None)
@given(st.data(), networks())
def test_differential_kernel_equals_infer_and_brute_force(data, case):
    """The precision retry's kernel (the rarest present finding in differential form) alone,
    on every kind of variant, including ones that drop that finding."""
    leak, q, prior, pos, neg = case
    net = make_net(leak, q)
    vs = data.draw(variant_lists(len(prior), len(leak), pos, neg))
    p, n_mask = encode_row(len(leak), pos, neg)
    n_v = len(vs)
    acc = V._Accuracy(np.full(n_v, 1e-10), np.ones(n_v, bool), np.zeros(n_v))
    sel = V.padded_present(net, p[None, :])[0][0]
    post, log_z, err = V._kernel_differential(
        net, V._plan(net, vs), prior[None, :], sel, n_mask[None, :], np.float64, acc
    )
    for v, var in enumerate(vs):
        if not np.isfinite(err[0, v]):
            continue
        e_post, e_lz, e_prior, e_pos, e_neg = explicit(net, prior, p, n_mask, var)
        if set(e_pos) & set(e_neg):
            # A finding both present and absent has no posterior; both paths return cancellation
            # noise there (Hypothesis found 3.3e-10 apart), and no caller uses such a variant.
            continue
        tol = max(err[0, v], 1e-12) * 10
        np.testing.assert_allclose(post[0, v], e_post, atol=tol + 1e-10, rtol=0)
        if np.isfinite(e_lz):
            b_post, b_lz = brute_force(leak, q, e_prior, e_pos, e_neg)
            np.testing.assert_allclose(post[0, v], b_post, atol=tol + 1e-10, rtol=0)
            assert abs(log_z[0, v] - b_lz) <= tol + 1e-10


def assert_variants_equal_infer(data, case, rows=1):
    """Random variants of ``rows`` copies of the case equal ``infer`` on each changed row."""
    leak, q, prior, pos, neg = case
    net = make_net(leak, q)
    vs = data.draw(variant_lists(len(prior), len(leak), pos, neg))
    p, n_mask = encode_row(len(leak), pos, neg)
    post, log_z = infer_variants(
        net, np.tile(prior, (rows, 1)), np.tile(p, (rows, 1)), np.tile(n_mask, (rows, 1)), vs
    )
    for v, var in enumerate(vs):
        e_post, e_lz, *_ = explicit(net, prior, p, n_mask, var)
        if not np.isfinite(e_lz):
            continue  # impossible evidence: no posterior to compare
        for r in range(rows):
            np.testing.assert_allclose(post[r, v], e_post, atol=1e-9, rtol=0)
            assert abs(log_z[r, v] - e_lz) < 1e-9


@settings(max_examples=200, deadline=None)
@given(st.data(), settled_networks(), st.sampled_from([1, 2]))
def test_variants_of_rows_with_absorbed_findings_equal_infer(data, case, rows):
    """Settled causes (prior 0 or 1) and one-parent findings: the absorbed findings leave the
    shared table, and dropping one, adding it again or shifting its parent's prior still gives
    what ``infer`` gives on the changed row, one row or several."""
    assert_variants_equal_infer(data, case, rows)


@settings(max_examples=40, deadline=None)
@given(st.data(), crowded_networks())
def test_crowded_rows_equal_infer(data, case):
    """A single row with more than ten present findings skips the shared table and goes
    straight to conditioning; every variant still equals ``infer`` on the changed row (crowded
    networks have leaks, so every row's evidence is possible)."""
    assert_variants_equal_infer(data, case)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.one_of(networks(), settled_networks()), st.sampled_from([1, 2]))
def test_variants_adding_a_finding_restated_as_shifts_equal_infer(data, case, rows):
    """With the restatement on for every row size (it normally waits for seven present
    findings), a variant that adds one finding with at most one uncertain parent becomes that
    parent's shift; every variant still equals ``infer`` on the changed row."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(V, "_RESTATE_ADDED_FROM", 0)
        assert_variants_equal_infer(data, case, rows)


def assert_variants_equal_brute_force(leak, q, prior, p, n_mask, vs, atol):
    """Every variant of one row equals brute force on the changed row, posteriors and log
    P(evidence) to ``atol``."""
    net = make_net(leak, q)
    post, log_z = infer_variants(net, prior[None, :], p[None, :], n_mask[None, :], vs)
    for v, var in enumerate(vs):
        _, _, e_prior, e_pos, e_neg = explicit(net, prior, p, n_mask, var)
        b_post, b_lz = brute_force(leak, q, e_prior, e_pos, e_neg)
        np.testing.assert_allclose(post[0, v], b_post, atol=atol, rtol=0)
        assert abs(log_z[0, v] - b_lz) < atol


def test_a_variant_adding_a_one_parent_finding_becomes_a_shift(monkeypatch):
    monkeypatch.setattr(V, "_RESTATE_ADDED_FROM", 0)
    leak = np.array([0.01, 0.02, 0.05])
    q = np.array([[0.8, 0.0], [0.3, 0.6], [0.0, 0.0]])  # finding 0: one parent (cause 0)
    prior = np.array([0.1, 0.2])
    net = make_net(leak, q)
    p, n_mask = encode_row(3, [1], [])
    vs = [Variant(add_pos=(0,)), Variant(add_pos=(2,)), Variant(add_neg=(0,))]
    absorbed = V._absorb(net, prior[None, :], p[None, :], n_mask[None, :], vs, 1e-10)
    restated = absorbed.variants
    assert restated[0].add_pos == () and [j for j, _ in restated[0].shift] == [0]
    assert restated[1] == Variant()  # no parent: only the normaliser changes
    assert restated[2] == vs[2]
    assert_variants_equal_brute_force(leak, q, prior, p, n_mask, vs, atol=1e-12)


def test_leaving_out_findings_that_made_a_cause_near_certain_keeps_its_digits():
    """Two rare one-parent findings make cause 1 nearly certain once absorbed (1 - p ~ 1e-8);
    leaving both out must bring it back to 1/2 exactly, not with the ~1e-8 relative error of
    1 - p (found by Hypothesis with leaks of 1e-6)."""
    leak = np.array([1e-06, 0.5, 0.00390625, 0.5])
    q = np.array([[0.0, 0.5], [0.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
    prior = np.array([0.5, 0.5])
    p, n_mask = encode_row(4, [0, 2, 3], [1])
    vs = [Variant(drop_pos=(0, 2)), Variant()]
    assert_variants_equal_brute_force(leak, q, prior, p, n_mask, vs, atol=1e-10)
