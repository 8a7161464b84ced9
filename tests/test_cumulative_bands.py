"""Cumulative lab bands (labs.toml ``implies``): a more severe band also sets present the findings
of the milder thresholds on its side, in assess(), the screening kernel and next-test variants."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from b12dx import assess
from b12dx.assessment import build_context
from b12dx.case import normalise, parse_case
from b12dx.context import lab_findings
from b12dx.errors import KnowledgeBaseError
from b12dx.kb import KnowledgeBase, load_kb
from b12dx.plan import _test_variants
from b12dx.screen.kernel import _PROFILES, Kernel
from b12dx.screen.rules import load_rules
from test_screen_kernel import check_rows

PACKAGED = Path(__file__).resolve().parents[1] / "src" / "b12dx" / "knowledge"
LOW = ("lab_potassium_low", "lab_potassium_moderate_low", "lab_potassium_severe_low")
CRAMPS = [{"id": "muscle_cramps"}, {"id": "muscle_weakness"}]

# graded low bands of one quantity, mildest first: (test, band ids, findings each band sets)
GRADED = [
    ("potassium", ("mild_low", "moderate_low", "severe_low"), LOW),
    (
        "magnesium",
        ("mild_low", "severe_low", "critical_low"),
        ("lab_magnesium_low", "lab_magnesium_severe_low", "lab_magnesium_critical_low"),
    ),
    ("calcium_adjusted", ("low", "severe_low"), ("lab_calcium_low", "lab_calcium_severe_low")),
    (
        "calcium_total",
        ("low", "severe_low"),
        ("lab_calcium_total_low", "lab_calcium_total_severe_low"),
    ),
]


def _case(k: float | None, sex: str = "female") -> dict[str, Any]:
    case: dict[str, Any] = {"age": 60, "sex": sex, "evidence": CRAMPS}
    if k is not None:
        case["labs"] = [{"test": "potassium", "value": k, "unit": "mmol/L"}]
    return case


def _context(kb: KnowledgeBase, case: dict[str, Any]) -> Any:
    ctx, _ = build_context(normalise(parse_case(case), kb), kb)
    return ctx


@pytest.mark.parametrize(("test", "bands", "findings"), GRADED)
def test_a_band_sets_its_own_and_every_milder_finding(
    kb: KnowledgeBase, test: str, bands: tuple[str, ...], findings: tuple[str, ...]
) -> None:
    by_id = {b.id: b for b in kb.lab_by_id[test].bands}
    for depth, bid in enumerate(bands):
        assert set(by_id[bid].present()) == set(findings[: depth + 1]), bid


@pytest.mark.parametrize(
    ("k", "present"), [(3.2, LOW[:1]), (2.7, LOW[:2]), (2.2, LOW), (1.4, LOW), (4.2, ())]
)
def test_assess_observes_the_implied_findings(
    kb: KnowledgeBase, k: float, present: tuple[str, ...]
) -> None:
    ctx = _context(kb, _case(k))
    pos = {ctx.net.finding_ids[i] for i in ctx.observation.pos}
    neg = {ctx.net.finding_ids[i] for i in ctx.observation.neg}
    assert pos & set(LOW) == set(present)
    assert neg & set(LOW) == set(LOW) - set(present)
    (reading,) = ctx.readings
    pos_i, neg_i = lab_findings(ctx.net, reading)
    assert pos_i == tuple(ctx.net.finding_index[f] for f in reading.band.present())
    assert {ctx.net.finding_ids[i] for i in neg_i} == {*LOW, "lab_potassium_high"} - set(present)


def test_a_lower_potassium_is_stronger_evidence_for_hypokalaemia(kb: KnowledgeBase) -> None:
    def p(k: float | None) -> float:
        return next(
            c.probability for c in assess(_case(k), kb=kb).differential if c.id == "hypokalaemia"
        )

    ps = [p(k) for k in (4.2, None, 3.2, 2.7, 1.4)]
    assert ps == sorted(ps), ps
    # the held-out miss: a potassium of 1.4 must put hypokalaemia first, not B12 deficiency
    top = assess(_case(1.4), kb=kb).differential[0].id
    assert top == "hypokalaemia"


@pytest.mark.parametrize(("test", "bands", "findings"), GRADED)
def test_main_cause_band_likelihood_ratios_rise_with_severity(
    kb: KnowledgeBase, test: str, bands: tuple[str, ...], findings: tuple[str, ...]
) -> None:
    """Noisy-OR likelihood ratio of each band for the test's defining cause (it alone vs none)."""
    leak = {f.id: f.leak.value for f in kb.findings}
    cause = {"potassium": "hypokalaemia", "magnesium": "hypomagnesaemia"}.get(test, "hypocalcaemia")
    q = {lk.finding: lk.value for lk in kb.links if lk.cause == cause}
    by_id = {b.id: b for b in kb.lab_by_id[test].bands}

    def lr(present: set[str]) -> float:
        out = 1.0
        for f in findings:
            on = 1 - (1 - leak[f]) * (1 - q.get(f, 0.0))
            out *= on / leak[f] if f in present else (1 - on) / (1 - leak[f])
        return out

    lrs = [lr(set(by_id[b].present())) for b in bands]
    assert lr(set()) < 0.2 < 1 < lrs[0]
    assert lrs == sorted(lrs), lrs


def test_next_test_variants_set_the_implied_findings(kb: KnowledgeBase) -> None:
    ctx = _context(kb, _case(None))
    variants, index = _test_variants(ctx, [kb.lab_by_id["potassium"]])
    idx = {f: ctx.net.finding_index[f] for f in (*LOW, "lab_potassium_high")}
    outcomes = {(frozenset(v.add_pos), frozenset(v.add_neg)) for v in variants}
    every = frozenset(idx.values())
    for present in (LOW[:1], LOW[:2], LOW, ("lab_potassium_high",), ()):
        pos = frozenset(idx[f] for f in present)
        assert (pos, every - pos) in outcomes, present
    assert len(variants) == len(index) == 5


def test_kernel_findings_and_variants_match_assess(kb: KnowledgeBase) -> None:
    kernel = Kernel(kb, load_rules(kb))
    test = kb.lab_by_id["potassium"]
    idx = kernel.net.finding_index
    for b_idx, band in enumerate(test.bands):
        pos, neg = kernel._lab_findings(test, b_idx)
        assert set(pos) == {idx[f] for f in band.present()}
        assert set(neg) == {idx[f] for f in (*LOW, "lab_potassium_high")} - set(pos)
    severe = next(i for i, b in enumerate(test.bands) if b.id == "severe_low")
    assert set(kernel._lab_findings(test, severe)[0]) == {idx[f] for f in LOW}
    for profile, (sex, preg) in enumerate(_PROFILES):
        case: dict[str, Any] = {"age": 30, "sex": sex, "evidence": CRAMPS}
        if preg:
            case["pregnant"] = True
        ctx = _context(kb, case)
        orderable = list(kernel._orderable)
        variants, _ = _test_variants(ctx, orderable)
        got, _, _ = kernel._variants(profile)
        assert got == variants
        assert any(set(v.add_pos) >= {kernel.net.finding_index[f] for f in LOW} for v in got)


@pytest.mark.parametrize("k", [1.4, 2.2, 2.5, 2.7, 3.0, 3.2, 3.6])
def test_kernel_equals_assess_on_graded_potassium(kb: KnowledgeBase, k: float) -> None:
    rules = load_rules(kb)
    row: dict[str, Any] = {"id": "r", "age": 55.0, "sex": "male", "muscle_weakness": True}
    row.update({"potassium": k, "potassium_unit": "mmol/L", "potassium_date": None})
    check_rows([row], kb, rules)


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(PACKAGED, folder)
    path = folder / "labs.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_the_validator_checks_implies(tmp_path: Path) -> None:
    folder = _broken_copy(
        tmp_path,
        'implies = ["lab_potassium_low"], abnormal',
        'implies = ["lab_potassium_moderate_low", "lab_magnesium_low", "no_such"], abnormal',
    )
    with pytest.raises(KnowledgeBaseError) as info:
        load_kb(folder, fresh=True)
    issues = {(i.where, i.message) for i in info.value.issues}
    where = "labs(potassium).bands(moderate_low).implies"
    assert issues == {
        (where, "'lab_potassium_moderate_low' is the band's own finding"),
        (where, "'lab_magnesium_low' is not the finding of another band of this test"),
        (where, "'no_such' is not the finding of another band of this test"),
    }
