"""What the seed documents say, checked as behaviour of the bundled knowledge base."""

from __future__ import annotations

import pytest

from b12dx import assess
from b12dx.assessment import posterior_of


def person(*findings, age=55, sex="female", **extra):
    return {"age": age, "sex": sex, "evidence": [{"id": f} for f in findings], **extra}


def test_accompanying_neurological_signs_point_to_b12():  # S13, S21
    cramps = posterior_of(person("muscle_cramps"))["b12_deficiency"]
    with_signs = posterior_of(
        person("muscle_cramps", "paresthesia_feet", "fatigue", "memory_problems")
    )["b12_deficiency"]
    assert with_signs > 3 * cramps


def test_b12_tightness_is_neurological_not_overexertion():  # S04, S17, S18
    neuro = assess(
        person(
            "muscle_tightness",
            "widespread_muscle_symptoms",
            "onset_gradual",
            "paresthesia_hands",
            "paresthesia_feet",
        )
    )
    strain = assess(
        person(
            "muscle_tightness",
            "localised_to_one_muscle",
            "onset_sudden",
            "strenuous_exercise_recent",
            "relieved_by_stretching",
        )
    )
    assert neuro.differential[0].id in {"b12_deficiency", "other_peripheral_neuropathy"}
    assert strain.differential[0].id == "exercise_associated_cramps"
    affected = {r.feature: r.this_person for r in neuro.comparison}
    assert affected["Affected areas"] == "b12_deficiency"


def test_electrolyte_cramps_after_exercise_in_heat_with_abnormal_labs():  # S15, S23
    a = assess(
        person(
            "muscle_cramps",
            "cramps_after_exercise",
            "cramps_in_heat",
            labs=[{"test": "potassium", "value": 3.0, "unit": "mmol/L"}],
        )
    )
    p = {c.id: c.probability for c in a.differential}
    electrolytes = [c for c in a.differential if c.group == "electrolyte"]
    assert electrolytes[0].id == "hypokalaemia" and p["hypokalaemia"] >= 0.5
    assert a.comparison[4].this_person in ("electrolyte", "mixed")  # diagnostic indicators


def test_blood_tests_confirm_b12_deficiency():  # S22
    before = posterior_of(person("muscle_cramps", "paresthesia_feet"))["b12_deficiency"]
    after = posterior_of(
        person(
            "muscle_cramps",
            "paresthesia_feet",
            labs=[
                {"test": "b12_total", "value": 150, "unit": "ng/L"},
                {"test": "mma", "value": 0.8, "unit": "umol/L"},
                {"test": "homocysteine", "value": 25, "unit": "umol/L"},
            ],
        )
    )["b12_deficiency"]
    assert after > 0.9 > before


def test_older_age_raises_the_prior():  # S35
    young = posterior_of(person("muscle_cramps", age=30))["b12_deficiency"]
    old = posterior_of(person("muscle_cramps", age=80))["b12_deficiency"]
    assert old > young


@pytest.mark.parametrize(
    "risk",
    [
        "vegan_diet",
        "vegetarian_diet",
        "alcohol_excess",
        "crohns_disease",
        "autoimmune_gastritis",
        "gastrectomy",
    ],
)
def test_risk_factors_raise_b12(risk):  # S31, S33, S34, S36
    base = posterior_of(person("muscle_cramps"))["b12_deficiency"]
    assert posterior_of(person("muscle_cramps", risk))["b12_deficiency"] > base


@pytest.mark.parametrize("drug", ["metformin", "omeprazole"])
def test_medicines_that_impair_absorption_raise_b12(drug):  # S32
    base = posterior_of(person("muscle_cramps"))["b12_deficiency"]
    on = posterior_of(person("muscle_cramps", medications=[{"name": drug, "years": 5}]))
    assert on["b12_deficiency"] > base


def low_b12(*findings, **extra):
    return person(*findings, labs=[{"test": "b12_total", "value": 120, "unit": "ng/L"}], **extra)


def test_diet_related_deficiency_gets_oral_treatment():  # S25, S26
    a = assess(low_b12("fatigue", "vegan_diet"))
    assert a.treatment is not None and a.treatment.cause == "b12_deficiency"
    assert a.treatment.route == "oral"


@pytest.mark.parametrize("cause", ["autoimmune_gastritis", "gastrectomy"])
def test_absorption_problems_get_injections_for_life(cause):  # S27
    a = assess(low_b12("fatigue", cause))
    assert a.treatment is not None and a.treatment.route == "intramuscular"
    assert a.treatment.lifelong


def test_neurological_involvement_is_urgent_and_injected():  # S28, S30
    a = assess(low_b12("paresthesia_feet", "balance_problems", "muscle_cramps"))
    assert a.triage.level in ("consultation_24", "emergency", "emergency_ambulance")
    assert a.treatment is not None and a.treatment.route == "intramuscular"


def test_treatment_is_followed_up():  # S29
    a = assess(low_b12("fatigue", "vegan_diet"))
    assert any("3 months" in m.text or "review" in m.text.lower() for m in a.monitoring)


def test_vegans_get_fortified_foods_and_supplements():  # S37, S38
    a = assess(person("fatigue", "vegan_diet"))
    assert a.diet is not None and a.diet.diet == "vegan"
    from b12dx.kb import load_kb

    fits = {f.name: f.diets for f in load_kb().plan.diet.foods}
    assert a.diet.foods and all("vegan" in fits[f.name] for f in a.diet.foods)
    assert any(f.fortified for f in a.diet.foods)
    assert a.diet.supplement


def test_general_cramp_prevention_advice():  # S39
    a = assess(person("muscle_cramps", "nocturnal_leg_cramps"))
    ids = {p.id for p in a.prevention}
    assert {"stay_hydrated", "stretch_before_bed"} <= ids


def test_every_output_says_see_a_clinician_and_cites_sources():  # S24, S40
    from b12dx.kb import load_kb

    a = assess(person("muscle_cramps"))
    assert "not a diagnosis" in a.disclaimer.lower() and a.sources
    assert {"nih-ods-b12", "cleveland-clinic-b12"} <= set(load_kb().source_by_id)


def test_other_deficiencies_are_in_the_differential():  # S20
    ids = {c.id for c in assess(person("muscle_cramps")).differential}
    assert {"hypomagnesaemia", "hypokalaemia", "vitamin_d_deficiency"} <= ids


def test_other_causes_with_pain_swelling_or_heat():  # S16
    a = assess(person("muscle_cramps", "unilateral_calf_swelling", "calf_warmth_redness"))
    assert a.triage.level in ("emergency", "emergency_ambulance")
    assert a.differential[0].id == "deep_vein_thrombosis"
