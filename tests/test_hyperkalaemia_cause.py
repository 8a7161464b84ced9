"""Hyperkalaemia as a cause in the differential (KB Unreleased, after 2026.11.8).

Before it, a person weak on spironolactone with an ACE inhibitor and a potassium of 7.0 could only
be explained as `drug_induced_cramps`; the triage side (UKKA severity bands) already existed and
is tested in test_hyperkalaemia.py. These tests would fail without the new cause, its links, the
ACE inhibitor/ARB drug class, its plan entries and its probability rules, and they check that
ordinary night cramps are not moved by it.
"""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase
from case_support import triage_rules as _rules

WEAK_ON_BOTH = {
    "age": 72,
    "sex": "male",
    "evidence": [{"id": "muscle_weakness"}, {"id": "symptoms_both_sides"}],
    "medications": [{"name": "spironolactone"}, {"name": "ramipril"}],
}
NIGHT_CRAMPS = {
    "age": 60,
    "sex": "female",
    "evidence": [{"id": "muscle_cramps"}, {"id": "nocturnal_leg_cramps"}],
}


def _p(a: Any, cause: str) -> float:
    return next(c.probability for c in a.differential if c.id == cause)


def test_the_cause_is_an_electrolyte_with_a_catch_all_prior(kb: KnowledgeBase) -> None:
    c = kb.cause_by_id["hyperkalaemia"]
    assert c.group == "electrolyte"
    assert c.prior[-1].age_from is None and c.prior[-1].evidence == "estimate"
    assert all(p.sources and p.rationale for p in c.prior)


def test_spironolactone_ace_inhibitor_weakness_and_k_7_ranks_hyperkalaemia_first() -> None:
    case = {**WEAK_ON_BOTH, "labs": [{"test": "potassium", "value": 7.0, "unit": "mmol/L"}]}
    a = assess(case)
    assert a.top_cause.id == "hyperkalaemia"
    assert a.top_cause.probability > 0.9
    assert a.triage.level == "emergency_ambulance"
    assert "severe_hyperkalaemia_with_weakness_or_palpitations" in _rules(a)
    assert a.treatment is not None
    assert a.treatment.option == "hyperkalaemia_emergency"


def test_without_a_potassium_the_combination_and_weakness_ask_for_a_test() -> None:
    a = assess(WEAK_ON_BOTH)
    assert a.top_cause.id == "hyperkalaemia"
    assert "p_hyperkalaemia" in _rules(a)
    assert "potassium" in {t.test for t in a.next_tests}


def test_the_combination_multiplies_the_prior() -> None:
    meds = [[], [{"name": "ramipril"}], [{"name": "spironolactone"}], WEAK_ON_BOTH["medications"]]
    priors = []
    for m in meds:
        a = assess({**WEAK_ON_BOTH, "medications": m})
        priors.append(next(c.prior for c in a.differential if c.id == "hyperkalaemia"))
    assert priors[0] < priors[1] < priors[2] < priors[3]


def test_a_normal_potassium_rules_it_out() -> None:
    case = {**WEAK_ON_BOTH, "labs": [{"test": "potassium", "value": 4.5, "unit": "mmol/L"}]}
    a = assess(case)
    assert _p(a, "hyperkalaemia") < 0.05
    assert not {"p_hyperkalaemia", "p_hyperkalaemia_likely"} & _rules(a)


@pytest.mark.parametrize("meds", [[], [{"name": "ramipril"}], [{"name": "spironolactone"}]])
def test_ordinary_night_cramps_are_not_moved(meds: list[dict[str, str]]) -> None:
    a = assess({**NIGHT_CRAMPS, "medications": meds})
    assert a.top_cause.id in {"idiopathic_nocturnal_cramps", "drug_induced_cramps"}
    assert a.triage.level in {"self_care", "consultation"}
    assert _p(a, "hyperkalaemia") < 0.05
    assert not {"p_hyperkalaemia", "p_hyperkalaemia_likely"} & _rules(a)


def test_plain_night_cramps_keep_their_top_cause_and_self_care() -> None:
    a = assess(NIGHT_CRAMPS)
    assert a.top_cause.id == "idiopathic_nocturnal_cramps"
    assert a.triage.level == "self_care"


def test_cramps_are_only_weak_evidence_for_hyperkalaemia(kb: KnowledgeBase) -> None:
    links = {(lk.cause, lk.finding): lk.value for lk in kb.links}
    assert links[("hyperkalaemia", "muscle_cramps")] < links[("hypokalaemia", "muscle_cramps")]
    # the defining lab finding points here far more than to rhabdomyolysis
    assert links[("hyperkalaemia", "lab_potassium_high")] > 0.9
    assert links[("rhabdomyolysis", "lab_potassium_high")] < 0.5


@pytest.mark.parametrize(
    "med",
    [{"name": "ramipril"}, {"name": "Cozaar"}, {"name": "candesartan"}, {"rxnorm": "29046"}],
)
def test_ace_inhibitors_and_arbs_map_to_their_class(med: dict[str, str]) -> None:
    a = assess({**NIGHT_CRAMPS, "medications": [med]})
    assert [m.drug_class for m in a.case.medications] == ["ace_inhibitor_or_arb"]


def test_mild_hyperkalaemia_gets_the_review_option_and_monitoring() -> None:
    case = {**WEAK_ON_BOTH, "labs": [{"test": "potassium", "value": 5.7, "unit": "mmol/L"}]}
    a = assess(case)
    assert a.top_cause.id == "hyperkalaemia"
    assert a.treatment is not None and a.treatment.option == "hyperkalaemia_review"
    assert "raas_potassium" in {m.id for m in a.monitoring}


def test_hyperkalaemia_is_in_the_electrolyte_column(kb: KnowledgeBase) -> None:
    assert "hyperkalaemia" in kb.plan.comparison[0].matches_electrolyte


def test_the_screening_table_gains_a_column(kb: KnowledgeBase) -> None:
    from b12dx.screen.kernel import Kernel
    from b12dx.screen.rules import load_rules

    names = Kernel(kb, load_rules(kb)).output_schema().names
    assert "p_hyperkalaemia" in names
