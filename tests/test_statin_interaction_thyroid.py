"""A statin with a strong CYP3A4 inhibitor, and hyperthyroidism as a cause of hypokalaemia.

KB content added for two gaps found by the held-out vignettes (docs/decisions.md, "Statin with a
strong CYP3A4 inhibitor" and "Hyperthyroidism raises hypokalaemia"). The held-out cases are not
used here: these are small hand-made cases that fail without the KB change.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from b12dx import assess
from b12dx.case import Medication, find_medication
from b12dx.kb import KnowledgeBase
from case_support import triage_rules as _rules

RULE = "statin_with_cyp3a4_inhibitor_muscle_symptoms"
LEVELS = ["self_care", "consultation", "consultation_24", "emergency", "emergency_ambulance"]


def _case(*present: str, meds: tuple[str, ...] = (), age: int = 64, **extra: Any) -> dict[str, Any]:
    return {
        "age": age,
        "sex": "male",
        "evidence": [{"id": f} for f in present],
        "medications": [{"name": m} for m in meds],
        **extra,
    }


def _p(a: Any, cause: str) -> float:
    return float(next(c.probability for c in a.differential if c.id == cause))


# ------------------------------------------------------------------ the drug class ---
@pytest.mark.parametrize(
    "name",
    [
        "clarithromycin",
        "Klaricid",
        "erythromycin",
        "itraconazole",
        "ketoconazole",
        "posaconazole",
        "voriconazole",
        "ritonavir",
        "Kaletra",
        "Paxlovid",
        "cobicistat",
        "nefazodone",
        "telithromycin",
    ],
)
def test_interacting_medicines_map_to_the_class(name: str, kb: KnowledgeBase) -> None:
    assert find_medication(Medication(name=name), kb) == "strong_cyp3a4_inhibitor"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        # moderate inhibitors stay in their own class (one class per medicine)
        ("diltiazem", "calcium_channel_blocker"),
        ("verapamil", "calcium_channel_blocker"),
        ("simvastatin", "statin"),
    ],
)
def test_other_medicines_keep_their_class(name: str, cls: str, kb: KnowledgeBase) -> None:
    assert find_medication(Medication(name=name), kb) == cls


def test_no_drug_name_is_in_two_classes(kb: KnowledgeBase) -> None:
    seen: dict[str, str] = {}
    for cls in kb.drug_classes:
        for drug in cls.drugs:
            for n in (drug.name, *drug.brands):
                assert seen.setdefault(n.lower(), cls.id) == cls.id, n


def test_inhibitor_effect_needs_a_statin(kb: KnowledgeBase) -> None:
    """statin_myopathy requires a statin: the inhibitor alone leaves its prior at 0."""
    alone = assess(_case("proximal_muscle_aching", meds=("clarithromycin",)), kb=kb)
    # a cause with prior 0 is left out of the differential
    assert "statin_myopathy" not in {c.id for c in alone.differential}
    with_statin = assess(
        _case("proximal_muscle_aching", meds=("simvastatin", "clarithromycin")), kb=kb
    )
    statin_only = assess(_case("proximal_muscle_aching", meds=("simvastatin",)), kb=kb)
    s_with, s_only = (
        next(c for c in a.differential if c.id == "statin_myopathy")
        for a in (with_statin, statin_only)
    )
    # the prior odds rise by the KB's odds ratio exactly
    effect = next(
        e
        for e in kb.drug_class_by_id["strong_cyp3a4_inhibitor"].effects
        if e.cause == "statin_myopathy"
    )
    odds = lambda p: p / (1 - p)  # noqa: E731
    assert math.isclose(odds(s_with.prior) / odds(s_only.prior), effect.value, rel_tol=1e-9)
    assert s_with.probability > s_only.probability


def test_inhibitor_has_no_effect_on_rhabdomyolysis(kb: KnowledgeBase) -> None:
    """Effects add on the log-odds without interaction terms: one on rhabdomyolysis would also
    act without a statin, so there is none."""
    effects = kb.drug_class_by_id["strong_cyp3a4_inhibitor"].effects
    assert {e.cause for e in effects} == {"statin_myopathy"}
    base = assess(_case("proximal_muscle_aching"), kb=kb)
    alone = assess(_case("proximal_muscle_aching", meds=("clarithromycin",)), kb=kb)
    assert math.isclose(_p(alone, "rhabdomyolysis"), _p(base, "rhabdomyolysis"), rel_tol=1e-12)


# ------------------------------------------------------------------ the triage rule ---
@pytest.mark.parametrize(
    "symptom",
    [
        "proximal_muscle_aching",
        "muscle_weakness",
        "muscle_cramps",
        "nocturnal_leg_cramps",
        "widespread_muscle_symptoms",
    ],
)
@pytest.mark.parametrize("inhibitor", ["clarithromycin", "itraconazole", "ritonavir"])
def test_statin_inhibitor_and_muscle_symptoms_is_same_day(
    symptom: str, inhibitor: str, kb: KnowledgeBase
) -> None:
    a = assess(_case(symptom, meds=("simvastatin", inhibitor)), kb=kb)
    assert RULE in _rules(a)
    assert LEVELS.index(a.triage.level) >= LEVELS.index("consultation_24")
    reason = next(r for r in a.triage.reasons if r.rule == RULE)
    assert reason.action and "today" in reason.action
    assert "mhra-simvastatin-2012" in reason.sources


@pytest.mark.parametrize(
    ("present", "meds"),
    [
        # the statin alone: ordinary statin muscle symptoms are a routine review
        (("proximal_muscle_aching",), ("simvastatin",)),
        (("nocturnal_leg_cramps",), ("atorvastatin",)),
        # the inhibitor alone: nothing to interact with
        (("muscle_cramps",), ("clarithromycin",)),
        (("nocturnal_leg_cramps", "relieved_by_stretching"), ("clarithromycin",)),
        # both medicines, no muscle complaint recorded
        (("fatigue",), ("simvastatin", "clarithromycin")),
        # a calcium-channel blocker is not in the class
        (("proximal_muscle_aching",), ("simvastatin", "diltiazem")),
    ],
)
def test_rule_does_not_fire_otherwise(
    present: tuple[str, ...], meds: tuple[str, ...], kb: KnowledgeBase
) -> None:
    a = assess(_case(*present, meds=meds), kb=kb)
    assert RULE not in _rules(a)


def test_ordinary_night_cramps_on_an_antibiotic_stay_self_care(kb: KnowledgeBase) -> None:
    a = assess(
        _case("nocturnal_leg_cramps", "relieved_by_stretching", meds=("clarithromycin",), age=40),
        kb=kb,
    )
    assert a.triage.level == "self_care"


def test_an_absent_symptom_does_not_fire(kb: KnowledgeBase) -> None:
    case = _case(meds=("simvastatin", "clarithromycin"))
    case["evidence"] = [{"id": "muscle_weakness", "state": "absent"}]
    assert RULE not in _rules(assess(case, kb=kb))


def test_prevention_note_needs_both_medicines(kb: KnowledgeBase) -> None:
    both = assess(_case("fatigue", meds=("simvastatin", "clarithromycin")), kb=kb)
    one = assess(_case("fatigue", meds=("simvastatin",)), kb=kb)
    assert "statin_interaction_check" in {p.id for p in both.prevention}
    assert "statin_interaction_check" not in {p.id for p in one.prevention}


# ------------------------------------------------------------------ hyperthyroidism ---
WEAK = ("muscle_weakness", "onset_sudden", "symptoms_both_sides")


def test_known_hyperthyroidism_raises_hypokalaemia_prior(kb: KnowledgeBase) -> None:
    base = assess(_case(*WEAK, age=30), kb=kb)
    thyro = assess(_case(*WEAK, "hyperthyroidism", age=30), kb=kb)
    hb = next(c for c in base.differential if c.id == "hypokalaemia")
    ht = next(c for c in thyro.differential if c.id == "hypokalaemia")
    effect = next(
        e for e in kb.risk_factor_by_id["hyperthyroidism"].effects if e.cause == "hypokalaemia"
    )
    assert math.isclose(
        (ht.prior / (1 - ht.prior)) / (hb.prior / (1 - hb.prior)), effect.value, rel_tol=1e-9
    )
    assert ht.probability > hb.probability


# TSH bands (labs.toml): low < 0.35, normal 0.35–5.5 inclusive, raised > 5.5
@pytest.mark.parametrize(
    ("value", "band"),
    [(0.01, "low"), (0.349, "low"), (0.35, "normal"), (5.5, "normal"), (5.51, "raised")],
)
def test_tsh_band_boundaries(value: float, band: str, kb: KnowledgeBase) -> None:
    a = assess(_case(*WEAK, labs=[{"test": "tsh", "value": value, "unit": "mIU/L"}]), kb=kb)
    assert a.labs[0].band == band


def test_low_tsh_sets_its_finding_and_raises_hypokalaemia(kb: KnowledgeBase) -> None:
    band = next(b for b in kb.lab_by_id["tsh"].bands if b.id == "low")
    assert band.finding == "lab_tsh_low"

    def p_hypok(tsh: float | None) -> float:
        labs = [] if tsh is None else [{"test": "tsh", "value": tsh, "unit": "mIU/L"}]
        return _p(assess(_case(*WEAK, age=30, labs=labs), kb=kb), "hypokalaemia")

    low, normal, unknown = p_hypok(0.01), p_hypok(1.5), p_hypok(None)
    assert low > unknown > normal
    # modest: a low TSH is indirect evidence (the likelihood ratio is about 2.5, not decisive)
    odds = lambda p: p / (1 - p)  # noqa: E731
    assert 1.5 < odds(low) / odds(unknown) < 4.0
    assert 0.9 < odds(normal) / odds(unknown) < 1.0


def test_hyperthyroidism_has_no_other_effect(kb: KnowledgeBase) -> None:
    assert {e.cause for e in kb.risk_factor_by_id["hyperthyroidism"].effects} == {"hypokalaemia"}
