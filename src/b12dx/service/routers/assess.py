"""``POST /v1/assess`` and the FHIR endpoints (``/v1/fhir/...``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from ...assessment import assess as run_assess
from ...case import Case
from ...fhir import FhirImport, case_from_fhir, questionnaire
from ...kb import KnowledgeBase
from ...result import Assessment
from ..compute import run_cpu
from ..deps import KbDep, SettingsDep

__all__ = ["router"]

router = APIRouter(tags=["assess"])

FHIR_JSON = "application/fhir+json"
_FHIR_BODY = Body(
    description="A FHIR R4 Bundle (collection, searchset, transaction...), a single resource, "
    "or a list of them.",
    examples=[
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Patient",
                        "id": "p1",
                        "gender": "female",
                        "birthDate": "1958-03-01",
                    }
                }
            ],
        }
    ],
)


@router.post(
    "/v1/assess",
    response_model=Assessment,
    summary="Assess a case",
    response_description="The Assessment (schema b12dx/assessment/v1)",
)
async def assess(case: Case, kb: KbDep, settings: SettingsDep) -> Response:
    """Triage, differential with explanations, lab interpretation, next tests and plan."""
    # The Assessment is already a validated model: serialise it once, straight to bytes, in the
    # compute thread. ``response_model`` above only documents it; FastAPI does not re-validate a
    # Response it is handed.
    body = await run_cpu(settings.compute_threads, _assess_json, case, kb)
    return Response(body, media_type="application/json")


def _assess_json(case: Case, kb: KnowledgeBase) -> bytes:
    # the same bytes as ``Assessment.to_json(indent=None)``, without a str round trip
    return _SERIALIZER.to_json(run_assess(case, kb=kb), by_alias=True)


_SERIALIZER = Assessment.__pydantic_serializer__


def _import(
    data: Any, kb: KbDep, as_of: dt.date | None, age: float | None, sex: str | None
) -> FhirImport:
    return case_from_fhir(data, kb=kb, as_of=as_of, age=age, sex=sex)


AsOf = Annotated[dt.date | None, Query(description="Date for ages and durations (default today)")]
AgeQ = Annotated[float | None, Query(ge=0, le=150, description="Age if the data lack it")]
SexQ = Annotated[Literal["female", "male"] | None, Query(description="Sex if the data lack it")]


@router.post("/v1/fhir/case", response_model=FhirImport, summary="FHIR R4 -> Case")
async def fhir_case(
    data: Annotated[dict[str, Any] | list[dict[str, Any]], _FHIR_BODY],
    kb: KbDep,
    settings: SettingsDep,
    as_of: AsOf = None,
    age: AgeQ = None,
    sex: SexQ = None,
) -> FhirImport:
    """The Case b12dx reads from FHIR data, and every resource or code it did not use."""
    # FHIR bodies can be megabytes: always in a compute thread, never blocking the event loop
    return await run_cpu(max(1, settings.compute_threads), _import, data, kb, as_of, age, sex)


@router.post(
    "/v1/fhir/assess",
    summary="FHIR R4 in, FHIR R4 out",
    response_class=Response,
    responses={
        200: {
            "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            "description": "A collection Bundle: RiskAssessment, "
            "GuidanceResponse, ServiceRequest proposals and an "
            "OperationOutcome listing what was not used.",
        }
    },
)
async def fhir_assess(
    data: Annotated[dict[str, Any] | list[dict[str, Any]], _FHIR_BODY],
    kb: KbDep,
    settings: SettingsDep,
    as_of: AsOf = None,
    age: AgeQ = None,
    sex: SexQ = None,
) -> Response:
    """Assess FHIR data; answer with a FHIR Bundle (what was not used: an OperationOutcome)."""
    threads = max(1, settings.compute_threads)  # large bodies: see fhir_case
    body = await run_cpu(threads, _fhir_assess_json, data, kb, as_of, age, sex)
    return Response(body, media_type=FHIR_JSON)


def _fhir_assess_json(
    data: Any, kb: KnowledgeBase, as_of: dt.date | None, age: float | None, sex: str | None
) -> str:
    import json
    import uuid

    from ...render.fhir import to_bundle

    imported = _import(data, kb, as_of, age, sex)
    result = run_assess(imported.case, kb=kb)
    bundle = to_bundle(
        result, kb=kb, patient_ref=imported.patient, observation_refs=imported.observations
    )
    if imported.ignored or imported.notes:
        issues = [
            {
                "severity": "information",
                "code": "not-supported",
                "diagnostics": f"{i.resource}: {i.reason}",
                **({"details": {"text": f"{i.code} {i.display or ''}".strip()}} if i.code else {}),
            }
            for i in imported.ignored
        ]
        issues += [
            {"severity": "information", "code": "informational", "diagnostics": n}
            for n in imported.notes
        ]
        oo_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"b12dx:{bundle['id']}:not-used"))
        bundle["entry"].append(
            {
                "fullUrl": f"urn:uuid:{oo_id}",
                "resource": {"resourceType": "OperationOutcome", "id": oo_id, "issue": issues},
            }
        )
    return json.dumps(bundle)


@router.get(
    "/v1/fhir/Questionnaire",
    summary="b12dx's FHIR Questionnaire",
    response_class=Response,
    responses={
        200: {
            "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            "description": "A FHIR R4 Questionnaire; answer it with a "
            "QuestionnaireResponse and POST that to /v1/fhir/assess.",
        }
    },
)
def fhir_questionnaire(kb: KbDep) -> Response:
    import json

    return Response(json.dumps(questionnaire(kb)), media_type=FHIR_JSON)
