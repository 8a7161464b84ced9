"""An Assessment as FHIR R4: a Bundle of RiskAssessment, GuidanceResponse and ServiceRequests.

``to_bundle(assessment)`` returns a plain dict (JSON-ready) of type ``collection``:

* **RiskAssessment**: one ``prediction`` per cause with ``probabilityDecimal`` and a
  ``rationale`` (the strongest evidence for and against), ``basis`` referencing the Observations
  used, ``method`` naming the model and the KB version and hash, the triage in ``note``;
* **GuidanceResponse**: ``status`` ``data-requested`` with one ``dataRequirement`` per
  recommended test (``success`` when none is), ``result`` pointing at a RequestGroup;
* **ServiceRequest** proposals (``status`` draft, ``intent`` proposal) for the recommended tests,
  grouped by that **RequestGroup**;
* **Observation** resources for lab values that did not come from FHIR (when the case came from
  FHIR, ``observation_refs`` makes ``basis`` point at the original resources instead), and a
  minimal **Patient** when no ``patient_ref`` is given.

Resource ids are UUIDs derived from what determines the assessment (the case, the KB's hash and
b12dx's version), so the same assessment always gives the same Bundle.
``service_requests(assessment, ...)`` gives the ServiceRequest proposals alone (the CDS Hooks card's
suggestions). ``validate(bundle)`` checks it against the ``fhir.resources`` R4B models (R4B is
identical to R4 for every resource used here).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from ..kb import KnowledgeBase, load_kb
from ..result import Assessment, CauseResult

__all__ = ["METHOD_SYSTEM", "PRIORITY", "service_requests", "to_bundle", "validate"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
METHOD_SYSTEM = "https://b12dx.org/fhir/CodeSystem/method"
TRIAGE_SYSTEM = "https://b12dx.org/fhir/CodeSystem/triage-level"
MODULE_URI = "https://b12dx.org/fhir/modules/b12dx"
# ServiceRequest.priority for each triage level (FHIR request-priority codes).
PRIORITY = {
    "emergency_ambulance": "stat",
    "emergency": "stat",
    "consultation_24": "urgent",
    "consultation": "routine",
    "self_care": "routine",
}


def _uuid(seed: str, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "b12dx:" + seed + ":" + ":".join(parts)))


def _seed(assessment: Assessment) -> str:
    # the assessment is a function of these three: hashing them is as unique as hashing the
    # whole Assessment and costs a fiftieth (its JSON is 70-110 kB)
    key = "|".join(
        (
            assessment.case_id or "",
            assessment.case.model_dump_json(),
            assessment.kb.sha256,
            assessment.b12dx_version,
        )
    )
    return hashlib.sha256(key.encode()).hexdigest()


def service_requests(
    assessment: Assessment,
    *,
    kb: KnowledgeBase,
    subject: dict[str, Any],
    reason_ref: str | None = None,
    seed: str | None = None,
) -> list[dict[str, Any]]:
    """One ServiceRequest proposal per recommended test, in the assessment's order."""
    seed = seed if seed is not None else _seed(assessment)
    priority = PRIORITY[assessment.triage.level]
    out: list[dict[str, Any]] = []
    for t in assessment.next_tests:
        sr: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": _uuid(seed, "request", t.test),
            "status": "draft",
            "intent": "proposal",
            "priority": priority,
            "code": {"coding": _loinc_coding(kb, t.test, t.name), "text": t.name},
            "subject": subject,
        }
        if reason_ref is not None:
            sr["reasonReference"] = [{"reference": reason_ref}]
        sr["note"] = [{"text": t.why}]
        if not sr["code"]["coding"]:
            del sr["code"]["coding"]
        out.append(sr)
    return out


def _loinc_coding(kb: KnowledgeBase, test: str, name: str) -> list[dict[str, str]]:
    t = kb.lab_by_id.get(test)
    if t is None or not t.loinc:
        return []
    return [{"system": LOINC, "code": t.loinc[0], "display": name}]


def _outcome(kb: KnowledgeBase, cause: CauseResult) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": cause.name}
    c = kb.cause_by_id.get(cause.id)
    codings = []
    if c is not None and c.codes.snomed:
        codings.append({"system": SNOMED, "code": c.codes.snomed, "display": cause.name})
    if c is not None and c.codes.icd10:
        codings.append({"system": ICD10, "code": c.codes.icd10, "display": cause.name})
    codings.append(
        {
            "system": "https://b12dx.org/fhir/CodeSystem/cause",
            "code": cause.id,
            "display": cause.name,
        }
    )
    concept["coding"] = codings
    return concept


def _rationale(cause: CauseResult) -> str:
    def fmt(items: list[Any]) -> str:
        return ", ".join(f"{c.label} ({c.state}, {c.log_odds:+.2f})" for c in items[:3])

    parts = [f"Probability {cause.probability:.1%} (prior {cause.prior:.1%})."]
    if cause.for_:
        parts.append("For: " + fmt(cause.for_) + ".")
    if cause.against:
        parts.append("Against: " + fmt(cause.against) + ".")
    parts.append("Log-odds contributions, leave-one-out.")
    return " ".join(parts)


def to_bundle(
    assessment: Assessment,
    *,
    kb: KnowledgeBase | None = None,
    patient_ref: str | None = None,
    observation_refs: Mapping[str, str] | None = None,
    occurrence: str | None = None,
) -> dict[str, Any]:
    """The Assessment as a FHIR R4 ``collection`` Bundle (a JSON-ready dict).

    *patient_ref* ("Patient/123") is the subject; without it a minimal Patient is included.
    *observation_refs* maps b12dx test ids to the Observations the values came from.
    *occurrence* (a FHIR dateTime) stamps RiskAssessment and GuidanceResponse.
    """
    kb = kb if kb is not None else load_kb()
    seed = _seed(assessment)
    entries: list[dict[str, Any]] = []

    def add(resource: dict[str, Any], full_url: str | None = None) -> str:
        url = full_url or f"urn:uuid:{resource['id']}"
        entries.append({"fullUrl": url, "resource": resource})
        return url

    if patient_ref is not None:
        subject = {"reference": patient_ref}
    else:
        pid = _uuid(seed, "patient")
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": pid,
            "gender": assessment.case.sex,
        }
        if assessment.case_id:
            patient["identifier"] = [
                {"system": "https://b12dx.org/fhir/case-id", "value": assessment.case_id}
            ]
        subject = {"reference": add(patient)}

    refs = dict(observation_refs or {})
    basis: list[dict[str, Any]] = []
    for lab in assessment.labs:
        if lab.test in refs:
            basis.append({"reference": refs[lab.test], "display": lab.name})
            continue
        oid = _uuid(seed, "observation", lab.test)
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": _loinc_coding(kb, lab.test, lab.name), "text": lab.name},
            "subject": subject,
            "valueQuantity": {"value": lab.value, "unit": lab.unit},
        }
        if lab.derived:
            obs["note"] = [{"text": "Derived by b12dx from other results."}]
        if lab.band_label:
            obs["interpretation"] = [{"text": lab.band_label}]
        if not obs["code"]["coding"]:
            del obs["code"]["coding"]
        basis.append({"reference": add(obs), "display": lab.name})

    triage = assessment.triage
    triage_note = f"Triage: {triage.level}. " + " ".join(r.text for r in triage.reasons)
    method_text = (
        f"b12dx {assessment.b12dx_version} exact noisy-OR network; knowledge base "
        f"{assessment.kb.version} (sha256 {assessment.kb.sha256})"
    )
    ra_id = _uuid(seed, "risk")
    risk: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": ra_id,
        "status": "final",
        "method": {
            "coding": [
                {"system": METHOD_SYSTEM, "code": "noisy-or", "display": "b12dx noisy-OR network"}
            ],
            "text": method_text,
        },
        "code": {"text": "Cause of muscle cramps, tightness or spasms"},
        "subject": subject,
        "prediction": [
            {
                "outcome": _outcome(kb, c),
                "probabilityDecimal": round(c.probability, 6),
                "rationale": _rationale(c),
            }
            for c in assessment.differential
        ],
        "note": [{"text": triage_note}, {"text": assessment.disclaimer}],
    }
    if assessment.case_id:
        risk["identifier"] = [
            {"system": "https://b12dx.org/fhir/case-id", "value": assessment.case_id}
        ]
    if basis:
        risk["basis"] = basis
    if occurrence:
        risk["occurrenceDateTime"] = occurrence
    ra_url = add(risk)

    priority = PRIORITY[triage.level]
    requests = service_requests(assessment, kb=kb, subject=subject, reason_ref=ra_url, seed=seed)
    sr_urls = [(add(sr), t.name) for sr, t in zip(requests, assessment.next_tests, strict=True)]

    guidance: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": _uuid(seed, "guidance"),
        "requestIdentifier": {
            "system": "urn:ietf:rfc:3986",
            "value": f"urn:uuid:{_uuid(seed, 'request')}",
        },
        "moduleUri": f"{MODULE_URI}/{assessment.b12dx_version}",
        "status": "data-requested" if assessment.next_tests else "success",
        "subject": subject,
        "reasonReference": [{"reference": ra_url}],
        "note": [{"text": triage_note}],
    }
    if occurrence:
        guidance["occurrenceDateTime"] = occurrence
    if assessment.next_tests:
        guidance["dataRequirement"] = [
            {
                "type": "Observation",
                "codeFilter": [
                    {"path": "code", "code": _loinc_coding(kb, t.test, t.name)}
                    if _loinc_coding(kb, t.test, t.name)
                    else {"path": "code"}
                ],
            }
            for t in assessment.next_tests
        ]
        group = {
            "resourceType": "RequestGroup",
            "id": _uuid(seed, "group"),
            "status": "draft",
            "intent": "proposal",
            "priority": priority,
            "subject": subject,
            "action": [{"title": name, "resource": {"reference": url}} for url, name in sr_urls],
        }
        guidance["result"] = {"reference": add(group)}
    add(guidance)
    return {
        "resourceType": "Bundle",
        "id": _uuid(seed, "bundle"),
        "type": "collection",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{_uuid(seed, 'id')}"},
        "entry": entries,
    }


def validate(bundle: Mapping[str, Any]) -> None:
    """Check a Bundle against the fhir.resources R4B models; raises ValueError if invalid."""
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        from ..errors import MissingExtraError

        raise MissingExtraError("FHIR validation", "service", "fhir.resources") from exc
    Bundle.model_validate(dict(bundle))
