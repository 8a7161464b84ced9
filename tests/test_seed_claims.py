"""Every claim of the seed documents (shared/seed-claims.md, S01–S40) is implemented.

Each claim maps to the knowledge-base entries and/or tests that implement it; the test fails when
a claim is missing from the map or a reference points at nothing.

Reference forms: ``cause:ID``, ``finding:ID``, ``risk_factor:ID``, ``drug_class:ID``, ``lab:ID``,
``band:TEST:BAND``, ``link:CAUSE->FINDING``, ``effect:OWNER->CAUSE``, ``comparison:FEATURE``,
``treatment:CAUSE:OPTION``, ``monitoring:ID``, ``prevention:ID``, ``followup:ID``,
``red_flag:ID``, ``test_rule:ID``, ``food:NAME``, ``source:ID``, ``test:FILE::FUNCTION``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from b12dx.kb import KnowledgeBase

HERE = Path(__file__).parent
SEED_CLAIMS = HERE.parents[1] / "shared" / "seed-claims.md"

CLAIMS: dict[str, list[str]] = {
    # Mechanism
    "S01": [
        "cause:b12_deficiency",
        "link:b12_deficiency->paresthesia_feet",
        "link:other_peripheral_neuropathy->paresthesia_feet",
        "source:seed-000",
    ],
    "S02": [
        "link:b12_deficiency->muscle_cramps",
        "link:b12_deficiency->muscle_spasms",
        "link:b12_deficiency->muscle_tightness",
    ],
    "S03": [
        "link:b12_deficiency->lab_mcv_high",
        "link:b12_deficiency->lab_haemoglobin_low",
        "link:b12_deficiency->fatigue",
        "link:b12_deficiency->muscle_weakness",
    ],
    "S04": [
        "comparison:Primary / underlying cause",
        "test:test_seed_behaviour.py::test_b12_tightness_is_neurological_not_overexertion",
    ],
    "S05": ["link:b12_deficiency->widespread_muscle_symptoms", "comparison:Affected areas"],
    # Accompanying symptoms
    "S06": [
        "link:b12_deficiency->paresthesia_feet",
        "link:b12_deficiency->paresthesia_hands",
        "link:b12_deficiency->numbness",
    ],
    "S07": ["link:b12_deficiency->muscle_weakness", "link:b12_deficiency->reduced_reflexes"],
    "S08": ["link:b12_deficiency->balance_problems"],
    "S09": ["link:b12_deficiency->vision_disturbance"],
    "S10": ["link:b12_deficiency->fatigue"],
    "S11": [
        "link:b12_deficiency->sore_red_tongue",
        "link:b12_deficiency->weight_loss",
        "link:b12_deficiency->shortness_of_breath",
    ],
    "S12": [
        "link:b12_deficiency->low_mood",
        "link:b12_deficiency->irritability",
        "link:b12_deficiency->memory_problems",
    ],
    "S13": [
        "test:test_seed_behaviour.py::test_accompanying_neurological_signs_point_to_b12",
        "test:test_assessment.py::test_explanation_signs_agree_with_leave_one_out",
    ],
    # The differential
    "S14": [
        "comparison:Primary / underlying cause",
        "comparison:Symptom profile / associated symptoms",
        "comparison:Onset / speed of onset",
        "comparison:Diagnostic indicators",
    ],
    "S15": [
        "cause:hypokalaemia",
        "cause:hypomagnesaemia",
        "cause:hypocalcaemia",
        "link:hypokalaemia->cramps_after_exercise",
        "link:hypomagnesaemia->cramps_in_heat",
        "test:test_seed_behaviour.py::"
        "test_electrolyte_cramps_after_exercise_in_heat_with_abnormal_labs",
    ],
    "S16": [
        "cause:exercise_associated_cramps",
        "cause:dehydration",
        "cause:drug_induced_cramps",
        "cause:peripheral_artery_disease",
        "cause:deep_vein_thrombosis",
        "test:test_seed_behaviour.py::test_other_causes_with_pain_swelling_or_heat",
    ],
    "S17": [
        "comparison:Affected areas",
        "comparison:Response to treatment",
        "comparison:Symptom profile / associated symptoms",
        "comparison:Onset / speed of onset",
    ],
    "S18": [
        "link:exercise_associated_cramps->localised_to_one_muscle",
        "link:exercise_associated_cramps->relieved_by_stretching",
        "link:dehydration->relieved_by_rest_and_fluids",
        "link:exercise_associated_cramps->onset_sudden",
    ],
    "S19": ["link:b12_deficiency->onset_gradual", "comparison:Response to treatment"],
    "S20": [
        "cause:hypomagnesaemia",
        "cause:hypokalaemia",
        "cause:vitamin_d_deficiency",
        "test:test_seed_behaviour.py::test_other_deficiencies_are_in_the_differential",
    ],
    "S21": [
        "test:test_assessment.py::test_explanation_signs_agree_with_leave_one_out",
        "test:test_seed_behaviour.py::test_accompanying_neurological_signs_point_to_b12",
    ],
    # Diagnosis
    "S22": [
        "band:b12_total:deficiency_likely",
        "lab:mma",
        "lab:homocysteine",
        "link:b12_deficiency->lab_mma_raised",
        "test:test_seed_behaviour.py::test_blood_tests_confirm_b12_deficiency",
    ],
    "S23": [
        "lab:potassium",
        "lab:magnesium",
        "lab:calcium_adjusted",
        "link:hypokalaemia->lab_potassium_low",
    ],
    "S24": [
        "test:test_seed_behaviour.py::test_every_output_says_see_a_clinician_and_cites_sources"
    ],
    # Treatment and follow-up
    "S25": [
        "treatment:b12_deficiency:b12_diet",
        "treatment:b12_deficiency:b12_malabsorption_irreversible",
        "test:test_seed_behaviour.py::test_diet_related_deficiency_gets_oral_treatment",
    ],
    "S26": [
        "treatment:b12_deficiency:b12_diet",
        "test:test_seed_behaviour.py::test_diet_related_deficiency_gets_oral_treatment",
    ],
    "S27": [
        "treatment:b12_deficiency:b12_malabsorption_irreversible",
        "test:test_seed_behaviour.py::test_absorption_problems_get_injections_for_life",
    ],
    "S28": [
        "red_flag:b12_neurological_involvement",
        "test:test_seed_behaviour.py::test_neurological_involvement_is_urgent_and_injected",
    ],
    "S29": [
        "monitoring:b12_review_3_months",
        "monitoring:b12_review_pregnancy",
        "test:test_seed_behaviour.py::test_treatment_is_followed_up",
    ],
    "S30": [
        "treatment:b12_deficiency:b12_neuro",
        "test:test_seed_behaviour.py::test_neurological_involvement_is_urgent_and_injected",
    ],
    # Risk factors
    "S31": ["effect:vegan_diet->b12_deficiency", "effect:vegetarian_diet->b12_deficiency"],
    "S32": [
        "effect:metformin->b12_deficiency",
        "effect:ppi->b12_deficiency",
        "effect:h2_blocker->b12_deficiency",
    ],
    "S33": ["effect:alcohol_excess->b12_deficiency"],
    "S34": ["effect:crohns_disease->b12_deficiency"],
    "S35": ["test:test_seed_behaviour.py::test_older_age_raises_the_prior"],
    "S36": ["effect:autoimmune_gastritis->b12_deficiency", "effect:gastrectomy->b12_deficiency"],
    # Prevention and diet
    "S37": [
        "food:Beef liver",
        "food:Clams",
        "food:Tuna",
        "food:Salmon",
        "food:Trout",
        "food:Milk",
        "food:Yogurt",
        "food:Cheese",
        "food:Egg",
        "food:cereal",
        "food:Nutritional yeast",
    ],
    "S38": [
        "prevention:plant_based_b12",
        "test:test_seed_behaviour.py::test_vegans_get_fortified_foods_and_supplements",
    ],
    "S39": [
        "prevention:stay_hydrated",
        "prevention:stretch_before_bed",
        "prevention:manage_conditions",
    ],
    "S40": [
        "source:nih-ods-b12",
        "source:cleveland-clinic-b12",
        "test:test_seed_behaviour.py::test_every_output_says_see_a_clinician_and_cites_sources",
    ],
}


def _test_functions(file: str) -> set[str]:
    tree = ast.parse((HERE / file).read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def resolves(kb: KnowledgeBase, ref: str) -> bool:
    kind, _, rest = ref.partition(":")
    plan = kb.plan
    if kind == "test":
        file, _, func = rest.partition("::")
        return (HERE / file).is_file() and func in _test_functions(file)
    if kind == "link":
        cause, _, finding = rest.partition("->")
        return any(lk.cause == cause and lk.finding == finding for lk in kb.links)
    if kind == "effect":
        owner, _, cause = rest.partition("->")
        holder = kb.risk_factor_by_id.get(owner) or kb.drug_class_by_id.get(owner)
        return holder is not None and any(e.cause == cause for e in holder.effects)
    if kind == "band":
        test, _, band = rest.partition(":")
        return test in kb.lab_by_id and any(b.id == band for b in kb.lab_by_id[test].bands)
    if kind == "treatment":
        cause, _, option = rest.partition(":")
        return any(
            t.cause == cause and any(o.id == option for o in t.options) for t in plan.treatments
        )
    if kind == "food":
        return any(rest.lower() in f.name.lower() for f in plan.diet.foods)
    tables = {
        "cause": kb.cause_by_id,
        "finding": kb.finding_by_id,
        "risk_factor": kb.risk_factor_by_id,
        "drug_class": kb.drug_class_by_id,
        "lab": kb.lab_by_id,
        "source": kb.source_by_id,
        "comparison": {r.feature: r for r in plan.comparison},
        "monitoring": {a.id: a for a in plan.monitoring},
        "prevention": {a.id: a for a in plan.prevention},
        "followup": {r.id: r for r in kb.followup},
        "red_flag": {r.id: r for r in kb.triage.red_flags},
        "test_rule": {r.id: r for r in plan.test_rules},
    }
    return kind in tables and rest in tables[kind]


def test_every_claim_is_mapped():
    expected = {f"S{i:02d}" for i in range(1, 41)}
    if SEED_CLAIMS.is_file():  # the steering repo's list, when it sits beside this checkout
        expected |= set(re.findall(r"^- (S\d\d) ", SEED_CLAIMS.read_text(), flags=re.M))
    assert expected <= set(CLAIMS), sorted(expected - set(CLAIMS))
    assert all(CLAIMS[c] for c in expected)


@pytest.mark.parametrize("claim", sorted(CLAIMS))
def test_claim_references_resolve(kb, claim):
    missing = [ref for ref in CLAIMS[claim] if not resolves(kb, ref)]
    assert not missing, f"{claim}: {missing}"


def test_resolver_rejects_dangling_references(kb):
    for ref in (
        "cause:nope",
        "link:b12_deficiency->nope",
        "test:test_engine.py::nope",
        "food:Unobtainium",
        "effect:vegan_diet->hypokalaemia",
        "comparison:Nope",
    ):
        assert not resolves(kb, ref), ref
