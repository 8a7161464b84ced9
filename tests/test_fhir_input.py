"""FHIR R4 -> Case, on published HL7 R4 examples and b12dx's own scenarios."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b12dx.assessment import assess
from b12dx.errors import InputError, OutOfScopeError
from b12dx.fhir import case_from_fhir, fhir_map, iter_resources, questionnaire
from b12dx.kb import KnowledgeBase
from service_support import load_fixture, service_kb

AS_OF = dt.date(2026, 10, 1)
CLINICAL = {
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "QuestionnaireResponse",
    "Patient",
    "DiagnosticReport",
    "AllergyIntolerance",
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return service_kb()


def _ignored(imported: Any, ref: str) -> list[str]:
    return [i.reason for i in imported.ignored if i.resource.split("#")[0].split(".")[0] == ref]


def _accounted(data: Any, imported: Any) -> None:
    """Every clinical resource was used or reported: nothing is dropped silently."""
    reported = {i.resource.split("#")[0].split(".component")[0] for i in imported.ignored}
    used = set(imported.used)
    for i, res in enumerate(iter_resources(data)):
        if res["resourceType"] not in CLINICAL:
            continue
        ref = (
            f"{res['resourceType']}/{res['id']}" if res.get("id") else f"{res['resourceType']}[{i}]"
        )
        assert ref in used or ref in reported, f"{ref} neither used nor reported"


# -- published HL7 R4 examples ---------------------------------------------------------------

HL7 = [
    "patient-example.json",
    "observation-example-f001-glucose.json",
    "observation-example-f005-hemoglobin.json",
    "observation-example-bloodpressure.json",
    "observation-example-bloodpressure-cancel.json",
    "condition-example-f201-fever.json",
    "condition-example2.json",
    "medicationstatementexample1.json",
    "medicationrequest0302.json",
    "bundle-example.json",
    "diagnosticreport-example-ghp.json",
]


@pytest.mark.parametrize("name", HL7)
def test_every_hl7_example_is_read_and_accounted_for(kb: KnowledgeBase, name: str) -> None:
    data = load_fixture("hl7-r4", name)
    imported = case_from_fhir(data, kb=kb, as_of=AS_OF, age=50, sex="female")
    _accounted(data, imported)


def test_patient_age_and_sex(kb: KnowledgeBase) -> None:
    imported = case_from_fhir(load_fixture("hl7-r4", "patient-example.json"), kb=kb, as_of=AS_OF)
    # born 1974-12-25: 51 on 2026-10-01
    assert (imported.case.age, imported.case.sex) == (51, "male")
    assert imported.patient == "Patient/example"
    assert imported.case.id == "example"
    assert imported.ignored == []


def test_age_is_whole_years_on_the_as_of_date(kb: KnowledgeBase) -> None:
    patient = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1970-10-02"}
    assert case_from_fhir(patient, kb=kb, as_of=dt.date(2026, 10, 1)).case.age == 55
    assert case_from_fhir(patient, kb=kb, as_of=dt.date(2026, 10, 2)).case.age == 56


def test_unmapped_lab_code_is_reported(kb: KnowledgeBase) -> None:
    imported = case_from_fhir(
        load_fixture("hl7-r4", "observation-example-f001-glucose.json"),
        kb=kb,
        as_of=AS_OF,
        age=60,
        sex="male",
    )
    if "15074-8" in kb.lab_by_loinc:
        assert imported.case.labs
    else:
        [item] = imported.ignored
        assert (item.resource, item.code) == ("Observation/f001", "http://loinc.org|15074-8")
        assert "no code b12dx uses" in item.reason


def test_haemoglobin_example_becomes_a_lab(kb: KnowledgeBase) -> None:
    imported = case_from_fhir(
        load_fixture("hl7-r4", "observation-example-f005-hemoglobin.json"),
        kb=kb,
        as_of=AS_OF,
        age=60,
        sex="male",
    )
    [lab] = imported.case.labs
    assert lab.test == kb.lab_by_loinc["718-7"].id
    assert (lab.value, lab.unit) == (7.2, "g/dL")
    assert lab.date == dt.date(2013, 4, 5)
    assert lab.reference_range is not None and lab.reference_range.low == 7.5
    assert imported.observations == {lab.test: "Observation/f005"}
    assess(imported.case, kb=kb)  # g/dL is accepted


def test_blood_pressure_components_are_reported(kb: KnowledgeBase) -> None:
    imported = case_from_fhir(
        load_fixture("hl7-r4", "observation-example-bloodpressure.json"),
        kb=kb,
        as_of=AS_OF,
        age=60,
        sex="male",
    )
    codes = {i.code for i in imported.ignored}
    assert {
        "http://loinc.org|85354-9",
        "http://loinc.org|8480-6",
        "http://loinc.org|8462-4",
    } <= codes


@pytest.mark.parametrize(
    ("name", "ref", "reason"),
    [
        (
            "observation-example-bloodpressure-cancel.json",
            "Observation/blood-pressure-cancel",
            "status 'cancelled'",
        ),
        ("condition-example-f201-fever.json", "Condition/f201", "clinical status 'resolved'"),
        ("condition-example2.json", "Condition/example2", "not mapped"),
        (
            "medicationrequest0302.json",
            "MedicationRequest/medrx0302",
            "not in any b12dx drug class",
        ),
        ("bundle-example.json", "MedicationRequest/3123", "status 'unknown'"),
    ],
)
def test_status_and_unknown_codes_are_reported(
    kb: KnowledgeBase, name: str, ref: str, reason: str
) -> None:
    imported = case_from_fhir(load_fixture("hl7-r4", name), kb=kb, as_of=AS_OF, age=60, sex="male")
    assert any(reason in r for r in _ignored(imported, ref)), imported.ignored


def test_general_health_profile_bundle(kb: KnowledgeBase) -> None:
    data = load_fixture("hl7-r4", "diagnosticreport-example-ghp.json")
    imported = case_from_fhir(data, kb=kb, as_of=AS_OF, age=60, sex="male")
    labs = {lab.test: lab for lab in imported.case.labs}
    potassium = kb.lab_by_loinc["2823-3"].id
    sodium = kb.lab_by_loinc["2951-2"].id
    assert labs[potassium].value == 4.2 and labs[potassium].unit == "mmol/L"
    assert labs[sodium].value == 140
    assert imported.observations[potassium] == "Observation/o2"
    # urine and differential-count codes are not b12dx tests: each one is reported
    assert any(i.code == "http://loinc.org|2756-5" for i in imported.ignored)
    result = assess(imported.case, kb=kb)
    assert {lab.test for lab in result.labs} >= {potassium, sodium}


# -- b12dx scenarios -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario(kb: KnowledgeBase) -> Any:
    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    return data, case_from_fhir(data, kb=kb, as_of=AS_OF)


def test_scenario_demographics_and_accounting(scenario: Any) -> None:
    data, imported = scenario
    assert (imported.case.age, imported.case.sex, imported.case.id) == (68, "female", "scn1")
    _accounted(data, imported)


def test_scenario_latest_result_wins_and_keeps_its_date(kb: KnowledgeBase, scenario: Any) -> None:
    _, imported = scenario
    b12 = kb.lab_by_loinc["2132-9"].id
    lab = next(x for x in imported.case.labs if x.test == b12)
    assert (lab.value, lab.unit, lab.date) == (150, "pg/mL", dt.date(2026, 9, 1))
    assert lab.reference_range is not None and lab.reference_range.low == 197
    assert imported.observations[b12] == "Observation/b12-2026"
    assert any("superseded" in r for r in _ignored(imported, "Observation/b12-2024"))


def test_scenario_observation_statuses(kb: KnowledgeBase, scenario: Any) -> None:
    _, imported = scenario
    potassium = kb.lab_by_loinc["2823-3"].id
    assert imported.observations[potassium] == "Observation/k-final"  # amended is used
    assert any("preliminary" in r for r in _ignored(imported, "Observation/k-prelim"))
    assert _ignored(imported, "Observation/k-error") == ["entered in error"]
    [bad] = _ignored(imported, "Observation/bad-unit")
    assert "furlong" in bad and "accepted units" in bad


def test_scenario_findings_conditions_and_medicines(kb: KnowledgeBase, scenario: Any) -> None:
    _, imported = scenario
    case = imported.case
    present = case.present()
    assert "muscle_cramps" in present
    assert present & {"paresthesia_feet", "paresthesia_hands"}
    assert {"type_2_diabetes", "chronic_kidney_disease"} <= present
    assert "previous_dvt" not in present and "coeliac_disease" not in present
    meds = {m.drug_class: m for m in case.medications}
    metformin = kb.drug_class_by_id[next(c for c in meds if "metformin" in c)]
    assert meds[metformin.id].years == pytest.approx(7.0, abs=0.01)  # since 2019-10-01
    ppi = next(c for c in meds if c != metformin.id)
    assert meds[ppi].years == pytest.approx(2.0, abs=0.01)
    assert any("stopped" in r for r in _ignored(imported, "MedicationRequest/simvastatin-stopped"))
    assert _ignored(imported, "MedicationRequest/paracetamol")
    assert _ignored(imported, "AllergyIntolerance/pen")
    assert _ignored(imported, "Condition/knee")


def test_scenario_assesses(kb: KnowledgeBase, scenario: Any) -> None:
    _, imported = scenario
    result = assess(imported.case, kb=kb)
    assert result.differential[0].probability > 0
    assert any(lab.test == kb.lab_by_loinc["2132-9"].id for lab in result.labs)


def test_component_results_are_read(kb: KnowledgeBase) -> None:
    panel = {
        "resourceType": "Observation",
        "id": "panel",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8"}]},
        "effectiveDateTime": "2026-01-02",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
                "valueQuantity": {"value": 3.0, "unit": "mmol/L"},
            }
        ],
    }
    imported = case_from_fhir(panel, kb=kb, as_of=AS_OF, age=40, sex="male")
    [lab] = imported.case.labs
    assert (lab.test, lab.value, lab.date) == (
        kb.lab_by_loinc["2823-3"].id,
        3.0,
        dt.date(2026, 1, 2),
    )


def test_pregnancy_condition(kb: KnowledgeBase) -> None:
    code = fhir_map().pregnancy[0]
    data = [
        {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1995-01-01"},
        {
            "resourceType": "Condition",
            "id": "preg",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": code.system, "code": code.code}]},
        },
    ]
    assert case_from_fhir(data, kb=kb, as_of=AS_OF).case.pregnant is True


@pytest.mark.parametrize(
    ("system", "code"),
    [
        ("http://snomed.info/sct", "21983002"),  # Hashimoto thyroiditis
        ("http://snomed.info/sct", "353295004"),  # Graves' disease
        ("http://hl7.org/fhir/sid/icd-10", "E06.3"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "E05.00"),  # Graves' without crisis (prefix E05.0)
    ],
)
def test_autoimmune_thyroid_conditions(kb: KnowledgeBase, system: str, code: str) -> None:
    data = [
        {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1970-01-01"},
        {
            "resourceType": "Condition",
            "id": "thyroid",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": system, "code": code}]},
        },
    ]
    case = case_from_fhir(data, kb=kb, as_of=AS_OF).case
    assert [e.id for e in case.evidence] == ["autoimmune_thyroid_disease"]


def test_questionnaire_response(kb: KnowledgeBase) -> None:
    data = load_fixture("scenarios", "questionnaire-response.json")
    imported = case_from_fhir(data, kb=kb, as_of=AS_OF)
    case = imported.case
    assert (case.age, case.sex) == (54, "male")
    states = {e.id: e.state for e in case.evidence}
    assert states["muscle_cramps"] == "present"
    assert states["unilateral_calf_swelling"] == "absent"
    assert states["fatigue"] == "unknown"
    assert states["vegan_diet"] == "present"
    [unknown] = [i for i in imported.ignored if "not_a_b12dx_question" in i.resource]
    assert "unknown evidence id" in unknown.reason


def test_questionnaire_response_to_another_questionnaire_is_reported(kb: KnowledgeBase) -> None:
    data = copy.deepcopy(load_fixture("scenarios", "questionnaire-response.json"))
    data["questionnaire"] = "http://example.org/Questionnaire/phq9"
    imported = case_from_fhir(data, kb=kb, as_of=AS_OF, age=54, sex="male")
    assert imported.case.evidence == []
    assert "not a response to b12dx's questionnaire" in imported.ignored[0].reason


def test_questionnaire_validates_as_r4(kb: KnowledgeBase) -> None:
    from fhir.resources.R4B.questionnaire import Questionnaire

    q = questionnaire(kb)
    Questionnaire.model_validate(q)
    links = {i["linkId"] for group in q["item"] for i in group["item"]}
    red = {f.id for f in kb.findings if f.kind == "red_flag" and f.question}
    assert red <= links
    assert q["item"][1]["linkId"] == "red-flags"  # red flags come first after demographics


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "no FHIR resources"),
        ({"resourceType": "Observation", "id": "x", "status": "final", "code": {}}, "no age"),
        (
            {"resourceType": "Patient", "id": "p", "birthDate": "1960-01-01", "gender": "unknown"},
            "Patient.gender is 'unknown'",
        ),
        (
            [
                {"resourceType": "Patient", "id": "a", "gender": "male", "birthDate": "1960-01-01"},
                {"resourceType": "Patient", "id": "b", "gender": "male", "birthDate": "1961-01-01"},
            ],
            "more than one patient",
        ),
    ],
)
def test_unusable_input_says_why(kb: KnowledgeBase, data: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        case_from_fhir(data, kb=kb, as_of=AS_OF)


def test_birth_after_the_as_of_date_is_an_input_error(kb: KnowledgeBase) -> None:
    patient = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1958-03-01"}
    with pytest.raises(InputError, match="after the as-of date"):
        case_from_fhir(patient, kb=kb, as_of=dt.date(1958, 1, 1))
    with pytest.raises(InputError, match="do not make a valid case"):
        case_from_fhir(dict(patient, birthDate="1800-01-01"), kb=kb, as_of=AS_OF)


def test_a_child_is_refused_by_assess_not_by_the_mapping(kb: KnowledgeBase) -> None:
    child = {"resourceType": "Patient", "id": "c", "gender": "female", "birthDate": "2016-01-01"}
    imported = case_from_fhir(child, kb=kb, as_of=AS_OF)
    with pytest.raises(OutOfScopeError):
        assess(imported.case, kb=kb)


_STATUSES = [
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keep=st.lists(st.booleans(), min_size=22, max_size=22),
    statuses=st.lists(st.sampled_from(_STATUSES), min_size=22, max_size=22),
)
def test_any_subset_of_the_scenario_is_accounted_for(keep: list[bool], statuses: list[str]) -> None:
    """Whatever subset of resources, with whatever statuses: every one is used or reported."""
    kb = service_kb()  # not a fixture: Hypothesis would print the whole KB on failure
    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    entries = [e for e, k in zip(data["entry"], keep, strict=False) if k]
    for e, status in zip(entries, statuses, strict=False):
        if e["resource"]["resourceType"] == "Observation":
            e["resource"]["status"] = status
    data["entry"] = entries
    try:
        imported = case_from_fhir(data, kb=kb, as_of=AS_OF, age=60, sex="female")
    except InputError as exc:
        assert "no FHIR resources" in str(exc)
        return
    _accounted(data, imported)
    ok = {"final", "amended", "corrected"}
    used_obs = set(imported.observations.values())
    for e in entries:
        r = e["resource"]
        if r["resourceType"] == "Observation" and f"Observation/{r['id']}" in used_obs:
            assert r["status"] in ok
