"""CDS Hooks 2.0 services: discovery entries, prefetch templates, triggers and cards.

Two services:

* ``b12dx-patient-view`` (hook ``patient-view``): when a chart opens, assess what the record holds
  (labs by the KB's LOINC codes, active medicines and conditions) and show one card if there is
  something to say (any mapped finding, lab or relevant medicine);
* ``b12dx-order-select`` (hook ``order-select``): fires when the selected draft orders include a
  medicine of a drug class that the KB links to B12 deficiency or an electrolyte disturbance
  (metformin, PPIs, diuretics, ...), or a lab test of that kind (B12, MMA, potassium, ...).

Which drug classes and tests trigger is derived from the KB (cause groups ``b12`` and
``electrolyte``), not listed in code. The card's indicator comes from the triage level.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..case import Medication, resolve_medication_classes
from ..errors import InputError
from ..fhir import LOINC, RXNORM, FhirImport, iter_resources
from ..kb import KnowledgeBase
from ..result import Assessment

__all__ = [
    "INDICATOR",
    "SERVICES",
    "build_card",
    "discovery",
    "order_trigger",
    "prefetch_templates",
    "resolve_template",
    "trigger_classes",
    "trigger_tests",
]

# CDS Hooks card indicator for each triage level.
INDICATOR = {
    "emergency_ambulance": "critical",
    "emergency": "critical",
    "consultation_24": "warning",
    "consultation": "info",
    "self_care": "info",
}
LEVEL_TEXT = {
    "emergency_ambulance": "call an ambulance",
    "emergency": "emergency care now",
    "consultation_24": "see a clinician within 24 h",
    "consultation": "routine review",
    "self_care": "self-care",
}
_GROUPS = ("b12", "electrolyte")
SERVICES: dict[str, dict[str, str]] = {
    "b12dx-patient-view": {
        "hook": "patient-view",
        "title": "b12dx: muscle cramps, B12 and electrolytes",
        "description": "Ranks the likely causes of muscle cramps, tightness or spasms (vitamin "
        "B12 deficiency, electrolyte disturbance, other causes) from the record, interprets "
        "B12 and electrolyte results per NICE NG239 and suggests the next tests.",
    },
    "b12dx-order-select": {
        "hook": "order-select",
        "title": "b12dx: B12 and electrolyte check when prescribing or ordering",
        "description": "When metformin, a proton-pump inhibitor or a diuretic is being "
        "prescribed, or B12, MMA or electrolytes are being ordered, shows what the record says "
        "about B12 and electrolyte status and what to test.",
    },
}


def _linked_findings(kb: KnowledgeBase) -> set[str]:
    groups = {c.id for c in kb.causes if c.group in _GROUPS}
    return {link.finding for link in kb.links if link.cause in groups and link.value > 0}


def trigger_classes(kb: KnowledgeBase) -> set[str]:
    """Drug classes whose KB effects raise the prior of a B12 or electrolyte cause."""
    groups = {c.id for c in kb.causes if c.group in _GROUPS}
    return {
        d.id for d in kb.drug_classes if any(e.cause in groups and e.value > 1 for e in d.effects)
    }


def trigger_tests(kb: KnowledgeBase) -> set[str]:
    """Lab tests mainly about B12 or electrolytes.

    A test qualifies when, over the distinct findings its result bands set, at least as many
    noisy-OR links go to B12 or electrolyte causes as to other causes (potassium, magnesium,
    sodium, calcium, B12, active B12, MMA do; haemoglobin, MCV or CK do not).
    """
    groups = {c.id for c in kb.causes if c.group in _GROUPS}
    causes_of: dict[str, set[str]] = {}
    for link in kb.links:
        if link.value > 0:
            causes_of.setdefault(link.finding, set()).add(link.cause)
    out = set()
    for t in kb.labs:
        findings = {b.finding for b in t.bands if b.finding}
        inside = sum(len(causes_of.get(f, set()) & groups) for f in findings)
        outside = sum(len(causes_of.get(f, set()) - groups) for f in findings)
        if inside > 0 and inside >= outside:
            out.add(t.id)
    return out


def prefetch_templates(kb: KnowledgeBase) -> dict[str, str]:
    codes = ",".join(f"{LOINC}|{code}" for t in kb.labs for code in t.loinc)
    return {
        "patient": "Patient/{{context.patientId}}",
        "observations": f"Observation?patient={{{{context.patientId}}}}&code={codes}"
        "&_sort=-date&_count=200",
        "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
        "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    }


def resolve_template(template: str, context: Mapping[str, Any]) -> str:
    out = template
    for key in ("patientId", "encounterId", "userId"):
        value = context.get(key)
        if isinstance(value, str):
            out = out.replace("{{context." + key + "}}", value)
    return out


def discovery(kb: KnowledgeBase) -> dict[str, Any]:
    templates = prefetch_templates(kb)
    return {
        "services": [
            {
                "hook": spec["hook"],
                "id": sid,
                "title": spec["title"],
                "description": spec["description"],
                "prefetch": templates,
                "usageRequirements": "Adults (16 and over). Needs the patient's age and sex; "
                "uses lab results coded in LOINC, medicines in RxNorm, conditions in SNOMED CT "
                "or ICD-10.",
            }
            for sid, spec in SERVICES.items()
        ]
    }


def _selected(context: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    selections = context.get("selections")
    wanted = {x for x in selections if isinstance(x, str)} if isinstance(selections, list) else None
    out = []
    for res in iter_resources(context.get("draftOrders")):
        ref = f"{res.get('resourceType')}/{res.get('id')}"
        if wanted is None or ref in wanted:
            out.append(res)
    return out


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping) or not isinstance(concept.get("coding"), list):
        return []
    return [c for c in concept["coding"] if isinstance(c, Mapping)]


def order_trigger(kb: KnowledgeBase, context: Mapping[str, Any]) -> str | None:
    """What in the selected draft orders fires the order-select service (a display text)."""
    classes = trigger_classes(kb)
    tests = trigger_tests(kb)
    for res in _selected(context):
        if res.get("resourceType") in ("MedicationRequest", "MedicationStatement"):
            concept = res.get("medicationCodeableConcept")
            for c in _codings(concept):
                if c.get("system") == RXNORM and c.get("code"):
                    hit = _class(kb, Medication(rxnorm=str(c["code"])[:20]), classes)
                    if hit is not None:
                        return f"Prescribing {kb.drug_class_by_id[hit].name}"
            text = concept.get("text") if isinstance(concept, Mapping) else None
            names = [text] + [c.get("display") for c in _codings(concept)]
            for name in names:
                if isinstance(name, str) and name:
                    hit = _class(kb, Medication(name=name[:200]), classes)
                    if hit is not None:
                        return f"Prescribing {kb.drug_class_by_id[hit].name}"
        elif res.get("resourceType") == "ServiceRequest":
            for c in _codings(res.get("code")):
                test = kb.lab_by_loinc.get(str(c.get("code"))) if c.get("system") == LOINC else None
                if test is not None and test.id in tests:
                    return f"Ordering {test.name}"
    return None


def _class(kb: KnowledgeBase, med: Medication, wanted: set[str]) -> str | None:
    """The first of the medicine's classes (primary first) that is in *wanted*, if any."""
    try:
        found = resolve_medication_classes(med, kb, where="draftOrders")
    except InputError:
        return None
    return next((c for c in found if c in wanted), None)


def relevant(kb: KnowledgeBase, imported: FhirImport) -> bool:
    """Whether the record holds anything b12dx can speak to (else no card on patient-view)."""
    case = imported.case
    return bool(
        case.evidence
        or case.labs
        or any(m.drug_class in trigger_classes(kb) for m in case.medications)
    )


def _summary(assessment: Assessment, prefix: str | None) -> str:
    top = assessment.differential[0]
    text = f"{top.name} most likely ({top.probability:.0%})"
    if assessment.next_tests:
        text += f"; consider {assessment.next_tests[0].name}"
    text += f" [{LEVEL_TEXT[assessment.triage.level]}]"
    if prefix:
        text = f"{prefix}: {text}"
    return text if len(text) < 140 else text[:138] + "…"


def _detail(assessment: Assessment, imported: FhirImport) -> str:
    lines = [f"**Triage: {LEVEL_TEXT[assessment.triage.level]}** (`{assessment.triage.level}`)"]
    lines += [
        f"- {r.text}" + (f" — {r.action}" if r.action else "") for r in assessment.triage.reasons
    ]
    lines += ["", "**Differential** (probability; causes are not exclusive)", ""]
    lines += [f"- {c.name}: {c.probability:.0%}" for c in assessment.differential[:5]]
    abnormal = [lab for lab in assessment.labs if lab.abnormal]
    if abnormal:
        lines += ["", "**Results outside guideline bands**", ""]
        lines += [f"- {lab.name} {lab.value:g} {lab.unit}: {lab.band_label}" for lab in abnormal]
    if assessment.next_tests:
        lines += ["", "**Suggested tests**", ""]
        lines += [f"- {t.name}: {t.why}" for t in assessment.next_tests]
    if imported.ignored:
        lines += [
            "",
            f"_{len(imported.ignored)} record item(s) were not used (codes b12dx "
            "does not map, inactive or non-final entries); open b12dx for the list._",
        ]
    lines += ["", f"_{assessment.disclaimer}_"]
    return "\n".join(lines)


def build_card(
    assessment: Assessment,
    imported: FhirImport,
    *,
    kb: KnowledgeBase,
    base_url: str,
    patient_id: str,
    link_url: str,
    prefix: str | None = None,
) -> dict[str, Any]:
    """One CDS Hooks card for an assessment."""
    from ..render.fhir import service_requests

    # the card's suggestions stand alone (no reasonReference: the EHR does not get our Bundle)
    requests = service_requests(assessment, kb=kb, subject={"reference": f"Patient/{patient_id}"})
    suggestions = [
        {
            "label": f"Order {t.name}",
            "uuid": str(uuid.uuid4()),
            "isRecommended": i == 0,
            "actions": [{"type": "create", "description": t.why, "resource": r}],
        }
        for i, (t, r) in enumerate(zip(assessment.next_tests, requests, strict=True))
    ]
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(assessment, prefix),
        "detail": _detail(assessment, imported),
        "indicator": INDICATOR[assessment.triage.level],
        "source": {
            "label": f"b12dx (knowledge base {assessment.kb.version})",
            "url": f"{base_url}/docs",
            "topic": {
                "system": "https://b12dx.org/fhir/CodeSystem/topic",
                "code": "muscle-cramps",
                "display": "Muscle cramps",
            },
        },
        "links": [
            {"label": "Open in b12dx (clinician view)", "url": link_url, "type": "absolute"},
            {
                "label": "b12dx questionnaire for the patient",
                "url": f"{base_url}/questionnaire",
                "type": "absolute",
            },
        ],
        "overrideReasons": [
            {
                "system": "https://b12dx.org/fhir/CodeSystem/override-reason",
                "code": code,
                "display": display,
            }
            for code, display in (
                ("already-addressed", "Already addressed"),
                ("not-relevant", "Not relevant for this patient"),
                ("disagree", "Disagree with the suggestion"),
            )
        ],
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def prefetch_data(prefetch: Mapping[str, Any]) -> list[Any]:
    """The usable prefetch values (null and OperationOutcome entries dropped)."""
    out: list[Any] = []
    for value in prefetch.values():
        if isinstance(value, Mapping) and value.get("resourceType") != "OperationOutcome":
            out.append(value)
    return out


def missing_keys(prefetch: Mapping[str, Any] | None, templates: Mapping[str, str]) -> Sequence[str]:
    """Template keys the client did not satisfy (absent, or an OperationOutcome in its place).

    ``null`` means the client looked and found nothing, so it is not fetched again.
    """
    have = prefetch or {}
    out = []
    for key in templates:
        if key not in have or (
            isinstance(have[key], Mapping) and have[key].get("resourceType") == "OperationOutcome"
        ):
            out.append(key)
    return out
