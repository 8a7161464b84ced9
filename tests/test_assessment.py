"""assess(): the single entry point — triage, explanations, plan and provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b12dx import Assessment, assess
from b12dx.assessment import posterior_of


def person(*findings, **extra):
    return {"age": 70, "sex": "female", "evidence": [{"id": f} for f in findings], **extra}


def test_result_carries_kb_version_hash_and_package_version(mini_kb):
    a = assess(person("muscle_cramps"), kb=mini_kb)
    assert a.kb.version == "test.1"
    assert a.kb.sha256 == mini_kb.sha256 and len(a.kb.sha256) == 64
    assert a.b12dx_version
    assert a.disclaimer == "Test disclaimer."


def test_json_round_trip_loses_nothing(mini_kb):
    a = assess(
        person(
            "muscle_cramps",
            "paresthesia_feet",
            labs=[{"test": "b12_total", "value": 150, "unit": "pg/mL"}],
        ),
        kb=mini_kb,
    )
    again = Assessment.model_validate_json(a.to_json())
    assert again == a
    assert json.loads(a.to_json())["differential"][0]["for"]


def test_every_source_id_used_is_resolved(mini_kb):
    a = assess(person("muscle_cramps", "paresthesia_feet"), kb=mini_kb)
    ids = {s.id for s in a.sources}
    for cause in a.differential:
        for c in cause.for_ + cause.against:
            assert set(c.sources) <= ids
    for r in a.triage.reasons:
        assert set(r.sources) <= ids


def test_red_flags_win(mini_kb):
    a = assess(
        person("nocturnal_leg_cramps", "muscle_cramps", "unilateral_calf_swelling"), kb=mini_kb
    )
    assert a.triage.level == "emergency"
    assert a.triage.reasons[0].rule == "dvt"


def test_severe_lab_value_is_an_emergency(mini_kb):
    a = assess(
        person("muscle_cramps", labs=[{"test": "potassium", "value": 2.2, "unit": "mmol/L"}]),
        kb=mini_kb,
    )
    assert a.triage.level == "emergency"


def test_isolated_night_cramps_can_be_self_care(mini_kb):
    a = assess(person("muscle_cramps", "nocturnal_leg_cramps"), kb=mini_kb)
    assert a.differential[0].id == "idiopathic_nocturnal_cramps"
    assert a.triage.level == "self_care"


def test_b12_with_neurology_is_at_least_consultation_24(mini_kb):
    a = assess(
        person("muscle_cramps", "paresthesia_feet", "fatigue", evidence_extra=None)
        if False
        else person(
            "muscle_cramps",
            "paresthesia_feet",
            "fatigue",
            medications=[{"name": "metformin", "years": 8}],
        ),
        kb=mini_kb,
    )
    assert a.differential[0].id == "b12_deficiency"
    assert a.triage.level in ("consultation_24", "emergency", "emergency_ambulance")


@pytest.mark.parametrize(
    ("extra", "option", "route"),
    [
        ({"evidence": [{"id": "paresthesia_feet"}]}, "im_neuro", "intramuscular"),
        ({"evidence": [{"id": "autoimmune_gastritis"}]}, "im_malabsorption", "intramuscular"),
        ({"evidence": [{"id": "vegan_diet"}]}, "oral", "oral"),
    ],
)
def test_treatment_route_is_chosen_by_cause(mini_kb, extra, option, route):
    a = assess(
        {
            "age": 50,
            "sex": "male",
            **extra,
            "labs": [{"test": "b12_total", "value": 120, "unit": "ng/L"}],
        },
        kb=mini_kb,
    )
    assert a.treatment is not None
    assert (a.treatment.option, a.treatment.route) == (option, route)


def test_no_treatment_without_reason(mini_kb):
    a = assess(person("muscle_cramps", "nocturnal_leg_cramps"), kb=mini_kb)
    assert a.treatment is None and a.diet is None


def test_folic_acid_never_alone_while_b12_unknown(mini_kb):
    a = assess(person("fatigue", labs=[{"test": "mcv", "value": 112, "unit": "fL"}]), kb=mini_kb)
    treated = [t.cause for t in ([a.treatment] if a.treatment else []) + a.other_treatments]
    assert "folate_deficiency" not in treated
    assert any(w.id == "never_folate_alone" for w in a.warnings)
    b = assess(
        person(
            "fatigue",
            labs=[
                {"test": "mcv", "value": 112, "unit": "fL"},
                {"test": "b12_total", "value": 500, "unit": "ng/L"},
            ],
        ),
        kb=mini_kb,
    )
    treated = [t.cause for t in ([b.treatment] if b.treatment else []) + b.other_treatments]
    assert "folate_deficiency" in treated


def test_vegan_diet_gets_fortified_foods_and_a_supplement(mini_kb):
    a = assess(person("fatigue", "vegan_diet"), kb=mini_kb)
    assert a.diet is not None and a.diet.diet == "vegan"
    assert all(f.fortified for f in a.diet.foods)
    assert a.diet.supplement
    assert a.diet.foods[0].servings_to_target == pytest.approx(2.4 / 8.3, abs=0.01)


def test_pregnancy_raises_the_b12_target(mini_kb):
    a = assess(
        {"age": 30, "sex": "female", "pregnant": True, "evidence": [{"id": "vegan_diet"}]},
        kb=mini_kb,
    )
    assert a.diet is not None and a.diet.target_ug_per_day == 2.6


def test_guideline_rule_comes_before_information_gain(mini_kb):
    a = assess(person("fatigue", medications=[{"name": "metformin", "years": 5}]), kb=mini_kb)
    assert a.next_tests[0].test == "b12_total"
    assert a.next_tests[0].rule == "symptom_and_risk"


def test_explanation_signs_agree_with_leave_one_out(mini_kb):
    base = person("muscle_cramps", "paresthesia_feet")
    a = assess(base, kb=mini_kb)
    b12 = next(c for c in a.differential if c.id == "b12_deficiency")
    par = next(c for c in b12.for_ if c.evidence == "paresthesia_feet")
    p_with = posterior_of(base, kb=mini_kb)["b12_deficiency"]
    p_without = posterior_of(person("muscle_cramps"), kb=mini_kb)["b12_deficiency"]
    lo = np.log(p_with / (1 - p_with)) - np.log(p_without / (1 - p_without))
    assert par.log_odds == pytest.approx(lo, abs=1e-4)


def test_comparison_row_says_which_column_matches(mini_kb):
    a = assess(person("paresthesia_feet"), kb=mini_kb)
    assert a.comparison[0].this_person == "b12_deficiency"
    b = assess(person("muscle_cramps"), kb=mini_kb)
    assert b.comparison[0].this_person == "unknown"


def test_statin_myopathy_needs_a_statin(mini_kb):
    a = assess(person("proximal_muscle_aching"), kb=mini_kb)
    assert "statin_myopathy" not in {c.id for c in a.differential}
    b = assess(person("proximal_muscle_aching", medications=[{"name": "Lipitor"}]), kb=mini_kb)
    assert b.differential[0].id == "statin_myopathy"


FINDINGS = [
    "muscle_cramps",
    "nocturnal_leg_cramps",
    "paresthesia_feet",
    "fatigue",
    "muscle_weakness",
    "proximal_muscle_aching",
]


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.sampled_from(FINDINGS), st.sampled_from(["present", "absent", "unknown"])),
    st.randoms(use_true_random=False),
)
def test_evidence_order_does_not_change_the_assessment(mini_kb, states, rnd):
    ev = [{"id": k, "state": v} for k, v in states.items()]
    a = posterior_of({"age": 60, "sex": "male", "evidence": ev}, kb=mini_kb)
    rnd.shuffle(ev)
    b = posterior_of({"age": 60, "sex": "male", "evidence": ev}, kb=mini_kb)
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-12)


def test_unknown_evidence_is_marginalised(mini_kb):
    a = posterior_of(person("muscle_cramps"), kb=mini_kb)
    b = posterior_of(
        {
            **person("muscle_cramps"),
            "evidence": [{"id": "muscle_cramps"}, {"id": "fatigue", "state": "unknown"}],
        },
        kb=mini_kb,
    )
    assert a == b


COMPLAINTS = [
    "muscle_cramps",
    "nocturnal_leg_cramps",
    "muscle_tightness",
    "muscle_spasms",
    "cramps_after_exercise",
    "cramps_in_heat",
    "carpopedal_spasm",
]


@pytest.mark.parametrize("complaint", COMPLAINTS)
def test_a_recorded_complaint_needs_no_scope_note(complaint):
    a = assess(person(complaint, "paresthesia_feet"))
    assert not any(w.id == "no_muscle_complaint" for w in a.warnings)


@pytest.mark.parametrize(
    "evidence",
    [
        [{"id": "paresthesia_feet"}, {"id": "fatigue"}],
        [{"id": "paresthesia_feet"}, {"id": "muscle_cramps", "state": "absent"}],
        [],
    ],
    ids=["other-symptoms", "cramps-denied", "nothing"],
)
def test_no_recorded_complaint_gets_the_scope_note_with_its_sources(evidence):
    a = assess({"age": 70, "sex": "female", "evidence": evidence})
    notes = [w for w in a.warnings if w.id == "no_muscle_complaint"]
    assert len(notes) == 1 and notes[0].sources
    cited = {s.id for s in a.sources}
    assert set(notes[0].sources) <= cited
