"""The engine against a brute-force oracle, and the properties noisy-OR must have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12dx.engine import infer
from engine_support import brute_force, crowded_networks, make_net, networks, settled_networks


def run(leak, q, prior, pos, neg, pad=2):
    net = make_net(leak, q)
    p = np.array(pos + [-1] * pad, dtype=np.int64)[None, :]
    n_mask = np.zeros((1, len(leak)), dtype=bool)
    n_mask[0, neg] = True
    post, log_z = infer(net, prior[None, :], p, n_mask)
    return post[0], log_z[0]


def assert_infer_equals(expected, expected_log_z, leak, q, prior, pos, neg):
    """``infer`` gives the brute-force posteriors and log P(evidence), to 1e-9."""
    post, log_z = run(leak, q, prior, pos, neg)
    np.testing.assert_allclose(post, expected, atol=1e-9, rtol=0)
    assert abs(log_z - expected_log_z) < 1e-9


@settings(max_examples=300, deadline=None)
@given(networks())
def test_engine_equals_brute_force(case):
    leak, q, prior, pos, neg = case
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    assert_infer_equals(expected, expected_log_z, leak, q, prior, pos, neg)


@settings(max_examples=100, deadline=None)
@given(networks())
def test_posteriors_are_probabilities(case):
    post, _ = run(*case)
    assert np.all(post >= 0) and np.all(post <= 1)


@settings(max_examples=100, deadline=None)
@given(networks(), st.randoms(use_true_random=False))
def test_evidence_order_does_not_matter(case, rnd):
    leak, q, prior, pos, neg = case
    shuffled_pos, shuffled_neg = pos[:], neg[:]
    rnd.shuffle(shuffled_pos)
    rnd.shuffle(shuffled_neg)
    a, _ = run(leak, q, prior, pos, neg)
    b, _ = run(leak, q, prior, shuffled_pos, shuffled_neg)
    np.testing.assert_allclose(a, b, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(networks(), st.sampled_from(("present", "absent")))
def test_zero_strength_finding_changes_nothing(case, state):
    leak, q, prior, pos, neg = case
    base, _ = run(leak, q, prior, pos, neg)
    # append a finding whose links all have strength 0
    leak2 = np.append(leak, 0.3)
    q2 = np.vstack([q, np.zeros(q.shape[1])])
    new = len(leak)
    post, _ = run(
        leak2,
        q2,
        prior,
        pos + ([new] if state == "present" else []),
        neg + ([new] if state == "absent" else []),
    )
    np.testing.assert_allclose(post, base, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(networks(), st.integers(0, 10))
def test_present_finding_never_lowers_its_only_parent(case, pick):
    leak, q, prior, pos, neg = case
    n = q.shape[1]
    j = pick % n
    leak2 = np.append(leak, 0.05)
    row = np.zeros(n)
    row[j] = 0.6
    q2 = np.vstack([q, row])
    before, _ = run(leak, q, prior, pos, neg)
    after, _ = run(leak2, q2, prior, [*pos, len(leak)], neg)
    assert after[j] >= before[j] - 1e-12


def test_quickscore_and_enumeration_agree():
    rng = np.random.default_rng(7)
    n, m = 4, 16
    leak = rng.uniform(0.01, 0.3, m)
    q = rng.uniform(0, 0.9, (m, n))
    prior = rng.uniform(0.01, 0.5, n)
    pos = list(range(14))  # more present findings than causes: the enumeration path
    neg = [14, 15]
    many, lz_many = run(leak, q, prior, pos, neg)
    expected, lz = brute_force(leak, q, prior, pos, neg)
    np.testing.assert_allclose(many, expected, atol=1e-9)
    assert abs(lz_many - lz) < 1e-9


def test_batch_equals_single_rows():
    rng = np.random.default_rng(3)
    n, m = 5, 9
    leak = rng.uniform(0.01, 0.3, m)
    q = rng.uniform(0, 0.9, (m, n))
    net = make_net(leak, q)
    rows = 25
    prior = rng.uniform(0.01, 0.5, (rows, n))
    pos = np.full((rows, 4), -1)
    neg = np.zeros((rows, m), dtype=bool)
    for r in range(rows):
        k = rng.integers(0, 5)
        chosen = rng.choice(m, size=k + 2, replace=False)
        pos[r, :k] = chosen[:k]
        neg[r, chosen[k:]] = True
    batch, _ = infer(net, prior, pos, neg)
    for r in range(rows):
        single, _ = infer(net, prior[r : r + 1], pos[r : r + 1], neg[r : r + 1])
        np.testing.assert_allclose(batch[r], single[0], atol=1e-15)


@pytest.mark.parametrize("zero_prior", [0, 2])
def test_zero_prior_cause_stays_zero(zero_prior):
    rng = np.random.default_rng(11)
    leak = rng.uniform(0.01, 0.3, 5)
    q = rng.uniform(0, 0.9, (5, 3))
    prior = np.array([0.2, 0.3, 0.1])
    prior[zero_prior] = 0.0
    post, _ = run(leak, q, prior, [0, 1], [2])
    assert post[zero_prior] == 0.0
    expected, _ = brute_force(leak, q, prior, [0, 1], [2])
    np.testing.assert_allclose(post, expected, atol=1e-9)


def test_far_out_evidence_is_exact_through_conditioning():
    """Very unlikely present findings defeat the signed sum; conditioning keeps it exact."""
    from b12dx import engine

    rng = np.random.default_rng(5)
    n, m = 8, 9
    leak = np.full(m, 1e-7)
    q = np.zeros((m, n))
    for i in range(m):  # each finding has one or two rare-ish parents
        q[i, rng.choice(n, size=rng.integers(1, 3), replace=False)] = rng.uniform(0.001, 0.02)
    prior = rng.uniform(0.001, 0.01, n)
    pos = list(range(7))
    neg = [7, 8]
    net = make_net(leak, q)
    p = np.array(pos, dtype=np.int64)
    n_mask = np.zeros(m, dtype=bool)
    n_mask[neg] = True
    _, _, err = engine._quickscore(net, prior[None, :], p[None, :], n_mask[None, :])
    assert err[0] > 1e-10  # the plain signed sum cannot be trusted here
    post, log_z, bound = engine._conditioned(net, prior, p, n_mask, 1e-10)
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    np.testing.assert_allclose(post, expected, atol=1e-9)
    assert abs(log_z - expected_log_z) < 1e-9 and bound <= 1e-10
    via_infer, _ = run(leak, q, prior, pos, neg)
    np.testing.assert_allclose(via_infer, expected, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(networks())
def test_posteriors_exact_without_exact_log_likelihood(case):
    """``exact_log_z=False`` relaxes only the log-likelihood; posteriors stay exact."""
    leak, q, prior, pos, neg = case
    net = make_net(leak, q)
    p = np.array([*pos, -1], dtype=np.int64)[None, :]
    n_mask = np.zeros((1, len(leak)), dtype=bool)
    n_mask[0, neg] = True
    post, _ = infer(net, prior[None, :], p, n_mask, exact_log_z=False)
    expected, _ = brute_force(leak, q, prior, pos, neg)
    np.testing.assert_allclose(post[0], expected, atol=1e-9, rtol=0)


@settings(max_examples=300, deadline=None)
@given(networks(max_causes=6, max_findings=8), st.booleans())
def test_differential_form_equals_brute_force(case, padded):
    """The rarest finding's pairs summed as single terms: same posteriors and likelihood, and a
    bound that holds."""
    from b12dx import engine

    leak, q, prior, pos, neg = case
    if not pos:
        return
    net = make_net(leak, q)
    cols = [*pos, len(leak)] if padded else pos  # the neutral padding finding must not count
    p = np.array(cols, dtype=np.int64)[None, :]
    n_mask = np.zeros((1, len(leak)), dtype=bool)
    n_mask[0, neg] = True
    post, log_z, err = engine._differential(net, prior[None, :], p, n_mask)
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    if np.isfinite(err[0]):  # err bounds both the posteriors and P(evidence)'s relative error
        np.testing.assert_allclose(post[0], expected, atol=max(err[0], 1e-12) * 10, rtol=0)
        assert abs(log_z[0] - expected_log_z) <= max(err[0], 1e-12) * 10


def test_differential_form_settles_what_plain_quickscore_cannot():
    """A rare present finding makes the plain signed sum cancel; its pairs taken as single
    terms do not, and the posteriors stay exact."""
    from b12dx import engine

    rng = np.random.default_rng(11)
    n, m = 7, 8
    leak = np.full(m, 1e-3)
    leak[0] = 1e-9  # finding 0 is rare: its pairs cancel most
    q = rng.uniform(0.05, 0.6, (m, n)) * (rng.random((m, n)) < 0.6)
    q[0] = 0.0
    q[0, 0] = 0.002
    prior = rng.uniform(0.01, 0.2, n)
    pos = [0, 1, 2, 3, 4, 5]
    neg = [6, 7]
    net = make_net(leak, q)
    p = np.array(pos, dtype=np.int64)[None, :]
    n_mask = np.zeros((1, m), dtype=bool)
    n_mask[0, neg] = True
    _, _, plain = engine._quickscore(net, prior[None, :], p, n_mask)
    post, _, err = engine._differential(net, prior[None, :], p, n_mask)
    expected, _ = brute_force(leak, q, prior, pos, neg)
    assert err[0] < plain[0] / 100 and err[0] < 1e-9
    np.testing.assert_allclose(post[0], expected, atol=err[0], rtol=0)


@settings(max_examples=60, deadline=None)
@given(crowded_networks())
def test_many_rare_present_findings_equal_brute_force(case):
    leak, q, prior, pos, neg = case
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    if not np.isfinite(expected_log_z):
        return  # impossible evidence (a present finding with no way to occur)
    assert_infer_equals(expected, expected_log_z, leak, q, prior, pos, neg)


@settings(max_examples=60, deadline=None)
@given(crowded_networks(), st.floats(1e-12, 1e-6))
def test_signed_sums_meet_each_rows_own_tolerance(case, loose):
    """Per-row tolerances: each row's reported bound is honest, whichever routes ran."""
    from b12dx import engine

    leak, q, prior, pos, neg = case
    expected, _ = brute_force(leak, q, prior, pos, neg)
    net = make_net(leak, q)
    p = np.array([pos, pos], dtype=np.int64)
    n_mask = np.zeros((2, len(leak)), dtype=bool)
    n_mask[:, neg] = True
    tol = np.array([1e-10, loose])
    post, _, err = engine._signed_sums(net, np.tile(prior, (2, 1)), p, n_mask, tol)
    for r in range(2):
        if np.isfinite(err[r]):
            np.testing.assert_allclose(post[r], expected, atol=max(err[r], 1e-12) * 10, rtol=0)


@settings(max_examples=60, deadline=None)
@given(crowded_networks())
def test_conditioning_with_row_shares_equals_brute_force(case):
    """Conditioning refines inner rows by their share of P(evidence); its bound still holds."""
    from b12dx import engine

    leak, q, prior, pos, neg = case
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    if not np.isfinite(expected_log_z):
        return
    net = make_net(leak, q)
    n_mask = np.zeros(len(leak), dtype=bool)
    n_mask[neg] = True
    post, log_z, bound = engine._conditioned(net, prior, np.array(pos), n_mask, 1e-10)
    if np.isfinite(bound):
        np.testing.assert_allclose(post, expected, atol=max(bound, 1e-12) * 10, rtol=0)
        assert abs(log_z - expected_log_z) <= max(bound, 1e-12) * 10


def test_probe_skips_routes_that_cannot_settle_a_crowded_row():
    """Sixteen rare present findings: the probe on the ten rarest already fails, so the full
    plain and differential sums are skipped, and conditioning still gives brute force."""
    from b12dx import engine

    rng = np.random.default_rng(19)
    n, k = 6, 16
    m = k + 2
    leak = np.full(m, 1e-4)
    q = np.zeros((m, n))
    for i in range(m):
        q[i, rng.choice(n, size=rng.integers(1, 3), replace=False)] = rng.uniform(0.002, 0.02)
    prior = rng.uniform(0.005, 0.05, n)
    pos, neg = list(range(k)), [k, k + 1]
    net = make_net(leak, q)
    sel = np.array([pos], dtype=np.int64)
    n_mask = np.zeros((1, m), dtype=bool)
    n_mask[0, neg] = True
    e_plain, e_diff = engine._probe(net, prior[None, :], sel, n_mask, True)
    assert e_plain[0] > 1e-10 and e_diff[0] > 1e-10
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    assert_infer_equals(expected, expected_log_z, leak, q, prior, pos, neg)


@settings(max_examples=200, deadline=None)
@given(settled_networks())
def test_absorbing_single_parent_findings_equals_brute_force(case):
    leak, q, prior, pos, neg = case
    with np.errstate(divide="ignore", invalid="ignore"):
        expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    if not np.isfinite(expected_log_z):
        return  # impossible evidence: no posterior to compare
    assert_infer_equals(expected, expected_log_z, leak, q, prior, pos, neg)


def test_absorption_takes_out_exactly_the_findings_with_one_uncertain_parent():
    from b12dx import engine

    # f0: one parent; f1: two parents, one settled on; f2: two uncertain parents; f3: no parent
    q = np.array([[0.5, 0, 0], [0.4, 0, 0.6], [0.3, 0.2, 0], [0, 0, 0]])
    leak = np.array([0.01, 0.02, 0.03, 0.04])
    prior = np.array([0.1, 0.2, 1.0])
    net = make_net(leak, q)
    new_prior, new_pos, _ = engine.absorb_single_parents(
        net, prior[None, :], np.array([[0, 1, 2, 3]])
    )
    assert new_pos.tolist() == [[-1, -1, 2, -1]]
    assert new_prior[0, 1] == prior[1] and new_prior[0, 2] == 1.0
    assert new_prior[0, 0] > prior[0]  # two present children raise cause 0
    expected, expected_log_z = brute_force(leak, q, prior, [0, 1, 2, 3], [])
    post, log_z = infer(net, prior[None, :], np.array([[0, 1, 2, 3]]), np.zeros((1, 4), bool))
    np.testing.assert_allclose(post[0], expected, atol=1e-12)
    assert abs(log_z[0] - expected_log_z) < 1e-12


@settings(max_examples=60, deadline=None)
@given(crowded_networks())
def test_every_clamp_set_tried_is_exact(case):
    """Each cause set ``infer`` may clamp gives brute force within the bound it reports."""
    from b12dx import engine

    leak, q, prior, pos, neg = case
    expected, expected_log_z = brute_force(leak, q, prior, pos, neg)
    net = make_net(leak, q)
    n_mask = np.zeros(len(leak), dtype=bool)
    n_mask[neg] = True
    p = np.array(pos)
    for a in engine._clamp_sets(net, prior, p):
        assert len(a) <= engine._MAX_CONDITIONED
        post, log_z, bound = engine._conditioned(net, prior, p, n_mask, 1e-10, a)
        if np.isfinite(bound):
            np.testing.assert_allclose(post, expected, atol=max(bound, 1e-12) * 10, rtol=0)
            assert abs(log_z - expected_log_z) <= max(bound, 1e-12) * 10
