"""Assessment -> FHIR R4 Bundle (RiskAssessment, GuidanceResponse, ServiceRequest)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from b12dx.assessment import assess
from b12dx.fhir import case_from_fhir
from b12dx.kb import KnowledgeBase
from b12dx.render.fhir import service_requests, to_bundle, validate
from b12dx.result import Assessment
from service_support import load_fixture, service_kb

CASES: dict[str, dict[str, Any]] = {
    "b12-neuro": {
        "id": "case-1",
        "age": 67,
        "sex": "female",
        "evidence": [{"id": "muscle_cramps", "initial": True}, {"id": "paresthesia_feet"}],
        "medications": [{"name": "metformin", "years": 6}],
        "labs": [{"test": "b12_total", "value": 190, "unit": "pg/mL"}],
    },
    "electrolyte": {
        "age": 45,
        "sex": "male",
        "evidence": [{"id": "muscle_cramps"}],
        "labs": [{"test": "potassium", "value": 2.9, "unit": "mmol/L"}],
    },
    "bare": {"age": 30, "sex": "female", "evidence": [{"id": "muscle_cramps"}]},
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return service_kb()


def _by_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


@pytest.fixture(scope="module", params=sorted(CASES))
def result(request: pytest.FixtureRequest, kb: KnowledgeBase) -> Assessment:
    return assess(CASES[request.param], kb=kb)


def test_bundle_validates_against_r4b_models(result: Assessment, kb: KnowledgeBase) -> None:
    bundle = to_bundle(result, kb=kb)
    validate(bundle)
    assert bundle["type"] == "collection"
    json.dumps(bundle)  # JSON-ready


def test_risk_assessment_has_one_prediction_per_cause(
    result: Assessment, kb: KnowledgeBase
) -> None:
    [risk] = _by_type(to_bundle(result, kb=kb), "RiskAssessment")
    assert [p["probabilityDecimal"] for p in risk["prediction"]] == [
        round(c.probability, 6) for c in result.differential
    ]
    assert [p["outcome"]["text"] for p in risk["prediction"]] == [
        c.name for c in result.differential
    ]
    assert result.kb.version in risk["method"]["text"]
    assert result.kb.sha256 in risk["method"]["text"]
    assert all(p["rationale"].startswith("Probability") for p in risk["prediction"])
    assert result.triage.level in risk["note"][0]["text"]


def test_basis_references_the_observations_used(result: Assessment, kb: KnowledgeBase) -> None:
    bundle = to_bundle(result, kb=kb)
    [risk] = _by_type(bundle, "RiskAssessment")
    urls = {e["fullUrl"] for e in bundle["entry"]}
    basis = [b["reference"] for b in risk.get("basis", [])]
    assert len(basis) == len(result.labs)
    assert set(basis) <= urls


def test_guidance_and_service_requests_follow_next_tests(
    result: Assessment, kb: KnowledgeBase
) -> None:
    bundle = to_bundle(result, kb=kb)
    [guidance] = _by_type(bundle, "GuidanceResponse")
    requests = _by_type(bundle, "ServiceRequest")
    assert len(requests) == len(result.next_tests)
    if result.next_tests:
        assert guidance["status"] == "data-requested"
        assert len(guidance["dataRequirement"]) == len(result.next_tests)
        for sr, t in zip(requests, result.next_tests, strict=True):
            assert (sr["status"], sr["intent"]) == ("draft", "proposal")
            assert sr["code"]["text"] == t.name
            loinc = kb.lab_by_id[t.test].loinc
            if loinc:
                assert sr["code"]["coding"][0] == {
                    "system": "http://loinc.org",
                    "code": loinc[0],
                    "display": t.name,
                }
        [group] = _by_type(bundle, "RequestGroup")
        assert guidance["result"]["reference"].endswith(group["id"])
    else:
        assert guidance["status"] == "success"


def test_bundle_is_deterministic(kb: KnowledgeBase) -> None:
    a = to_bundle(assess(CASES["b12-neuro"], kb=kb), kb=kb)
    b = to_bundle(assess(CASES["b12-neuro"], kb=kb), kb=kb)
    assert a == b


def test_ids_differ_between_assessments(kb: KnowledgeBase) -> None:
    ids = {
        name: {e["resource"]["id"] for e in to_bundle(assess(case, kb=kb), kb=kb)["entry"]}
        for name, case in CASES.items()
    }
    assert not ids["b12-neuro"] & ids["electrolyte"]
    assert not ids["electrolyte"] & ids["bare"]


def test_service_requests_alone_equal_the_bundles(result: Assessment, kb: KnowledgeBase) -> None:
    # the CDS Hooks card builds its suggestions with service_requests() instead of a whole Bundle
    subject = {"reference": "Patient/p1"}
    in_bundle = _by_type(to_bundle(result, kb=kb, patient_ref="Patient/p1"), "ServiceRequest")
    alone = service_requests(result, kb=kb, subject=subject)
    assert [{k: v for k, v in sr.items() if k != "reasonReference"} for sr in in_bundle] == alone
    assert all("reasonReference" in sr for sr in in_bundle)


def test_fhir_round_trip_points_basis_at_original_observations(kb: KnowledgeBase) -> None:
    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    imported = case_from_fhir(data, kb=kb, as_of=dt.date(2026, 10, 1))
    result = assess(imported.case, kb=kb)
    bundle = to_bundle(
        result,
        kb=kb,
        patient_ref=imported.patient,
        observation_refs=imported.observations,
        occurrence="2026-10-01",
    )
    validate(bundle)
    [risk] = _by_type(bundle, "RiskAssessment")
    refs = {b["reference"] for b in risk["basis"]}
    assert "Observation/b12-2026" in refs
    assert risk["subject"] == {"reference": "Patient/scn1"}
    assert _by_type(bundle, "Patient") == []


def test_cli_format_fhir_prints_the_same_bundle(tmp_path: Any, kb: KnowledgeBase) -> None:
    from b12dx.cli import app

    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASES["b12-neuro"]), encoding="utf-8")
    out = CliRunner().invoke(app, ["assess", str(path), "--format", "fhir"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == to_bundle(assess(CASES["b12-neuro"]))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keep=st.lists(st.booleans(), min_size=22, max_size=22))
def test_any_subset_of_a_record_gives_a_valid_bundle(keep: list[bool]) -> None:
    """FHIR in, FHIR out: whatever part of the record is present, the output validates and its
    basis points only at Observations that were in the input."""
    kb = service_kb()  # not a fixture: Hypothesis would print the whole KB on failure
    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    data["entry"] = [e for e, k in zip(data["entry"], keep, strict=False) if k]
    if not data["entry"]:
        return
    imported = case_from_fhir(data, kb=kb, as_of=dt.date(2026, 10, 1), age=60, sex="female")
    result = assess(imported.case, kb=kb)
    bundle = to_bundle(
        result, kb=kb, patient_ref=imported.patient, observation_refs=imported.observations
    )
    validate(bundle)
    inputs = {f"Observation/{e['resource']['id']}" for e in data["entry"]}
    [risk] = _by_type(bundle, "RiskAssessment")
    for b in risk.get("basis", []):
        assert b["reference"] in inputs or b["reference"].startswith("urn:uuid:")
