"""Robustness: malformed FHIR JSON never crashes the importer or the CDS service.

Real EHR data is messy; whatever shape a resource has, ``case_from_fhir`` either builds a case
(reporting what it could not use) or raises ``InputError`` with a message, and the CDS Hooks
endpoint answers 200 or 422, never 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b12dx.errors import InputError
from b12dx.fhir import case_from_fhir
from b12dx.kb import KnowledgeBase
from service_support import make_app, service_kb

AS_OF = dt.date(2026, 10, 1)
TYPES = [
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "QuestionnaireResponse",
    "DiagnosticReport",
    "Medication",
    "Bundle",
    "Encounter",
]
KEYS = [
    "id",
    "status",
    "code",
    "valueQuantity",
    "component",
    "effectiveDateTime",
    "effectivePeriod",
    "issued",
    "referenceRange",
    "clinicalStatus",
    "verificationStatus",
    "medicationCodeableConcept",
    "medicationReference",
    "contained",
    "authoredOn",
    "dispenseRequest",
    "birthDate",
    "gender",
    "questionnaire",
    "item",
    "valueBoolean",
    "valueCodeableConcept",
    "subject",
    "abatementDateTime",
    "entry",
    "resource",
    "coding",
    "system",
    "value",
    "unit",
    "linkId",
    "answer",
    "valueCoding",
    "start",
    "low",
    "high",
]
SYSTEMS = [
    "http://loinc.org",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://unitsofmeasure.org",
]
CODES = [
    "2132-9",
    "2823-3",
    "718-7",
    "55300003",
    "44054006",
    "E11.9",
    "7646",
    "mmol/L",
    "pg/mL",
    "active",
    "final",
    "present",
    "age",
    "sex",
    "muscle_cramps",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(SYSTEMS + CODES + ["1958-05-14", "2026-13-40", "female", ""])
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
resources = st.builds(
    lambda t, body: {**body, "resourceType": t},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6),
)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return service_kb()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.lists(resources, max_size=6))
def test_importer_never_crashes(data: list[dict[str, Any]]) -> None:
    kb = service_kb()  # not a fixture: Hypothesis would print the whole KB on failure
    try:
        imported = case_from_fhir(data, kb=kb, as_of=AS_OF, age=50, sex="female")
    except InputError:
        return
    assert imported.case.age == 50


@pytest.fixture(scope="module")
def dev_client(kb: KnowledgeBase) -> TestClient:
    return TestClient(make_app(kb, cds_dev_no_auth=True))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    context=st.dictionaries(
        st.sampled_from(["patientId", "userId", "selections", "draftOrders", "encounterId"]),
        json_values
        | st.builds(lambda r: {"resourceType": "Bundle", "entry": [{"resource": r}]}, resources),
        max_size=5,
    ),
    prefetch=st.dictionaries(
        st.sampled_from(["patient", "observations", "medications", "conditions"]),
        resources | st.none(),
        max_size=4,
    ),
    hook=st.sampled_from(["patient-view", "order-select"]),
)
def test_cds_service_never_500(
    dev_client: TestClient, context: dict[str, Any], prefetch: dict[str, Any], hook: str
) -> None:
    service = f"b12dx-{hook}"
    resp = dev_client.post(
        f"/cds-services/{service}",
        json={"hook": hook, "hookInstance": "fuzz", "context": context, "prefetch": prefetch},
    )
    assert resp.status_code in (200, 422), resp.text
