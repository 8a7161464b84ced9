"""FHIR R4 resources -> a b12dx ``Case``.

``case_from_fhir(data)`` reads a Bundle (collection, searchset, transaction, ...), a single
resource, or a list of either, and maps what b12dx understands:

* **Patient**: age from ``birthDate`` (whole years on the ``as_of`` date), sex from ``gender``;
* **Observation**: lab results by LOINC code with ``valueQuantity`` (UCUM unit), components
  included, only ``final``/``amended``/``corrected``; the latest result per test wins and keeps its
  date; symptom and history observations by SNOMED CT code (``valueBoolean`` false = absent);
  Observations contained in a DiagnosticReport are read too;
* **Condition**: SNOMED CT / ICD-10 codes -> history and risk-factor ids, active ones only;
* **MedicationStatement / MedicationRequest**: RxNorm code or name -> drug class, active only,
  years of use from the start date;
* **QuestionnaireResponse** to b12dx's own Questionnaire (``questionnaire(kb)``): linkIds are
  evidence ids, plus ``age``, ``sex`` and ``pregnant``.

Nothing is dropped silently: every resource or code that is not used is listed in
``FhirImport.ignored`` with the reason (unknown code, wrong status, bad unit, superseded ...).
Plain dicts are read (no FHIR model library is needed on the input path), so odd but harmless
content in real EHR data does not stop an import.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .case import Case, EvidenceItem, LabResult, Medication, ReferenceRange, medication_classes
from .errors import InputError, UnknownIdError
from .kb import KnowledgeBase, LabTest, load_kb
from .labs import convert

__all__ = [
    "LOINC",
    "RXNORM",
    "SNOMED",
    "FhirImport",
    "Ignored",
    "case_from_fhir",
    "fhir_map",
    "iter_resources",
    "questionnaire",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ICD10 = (
    "http://hl7.org/fhir/sid/icd-10",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://hl7.org/fhir/sid/icd-10-uk",
)

_OBS_OK = {"final", "amended", "corrected"}
_COND_ACTIVE = {"active", "recurrence", "relapse"}
_VERIFICATION_SKIP = {"refuted", "entered-in-error"}
# Read only through references (Medication) or carrying no clinical content for b12dx.
_SILENT = {"Medication", "OperationOutcome", "Specimen"}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ignored(_Out):
    """A resource, or one code in it, that did not become part of the case, and why."""

    resource: str  # "Observation/f001", or "Observation[3]" when it has no id
    code: str | None = None  # "system|code" of the part that was not used
    display: str | None = None
    reason: str


class FhirImport(_Out):
    """The Case built from FHIR, with everything that was not used and where labs came from."""

    case: Case
    ignored: list[Ignored] = Field(default_factory=list)
    # b12dx lab test id -> the reference of the Observation it came from
    observations: dict[str, str] = Field(default_factory=dict)
    patient: str | None = None  # "Patient/<id>"
    used: list[str] = Field(default_factory=list)  # every resource that contributed
    notes: list[str] = Field(default_factory=list)


# -- the mapping data that is not in the KB proper (see knowledge/fhir_map.toml) ----------


class _CodeRef(_Out):
    system: str
    code: str
    display: str


class _LocalSource(_Out):
    id: str
    title: str
    url: str


class _ConditionCodes(_Out):
    id: str
    snomed: tuple[str, ...] = ()
    icd10: tuple[str, ...] = ()


class FhirMap(_Out):
    questionnaire_url: str
    pregnancy: tuple[_CodeRef, ...]
    negative_answers: tuple[_CodeRef, ...]
    condition_codes: tuple[_ConditionCodes, ...] = ()
    sources: tuple[str, ...]
    evidence: str
    source: tuple[_LocalSource, ...] = ()


@lru_cache(maxsize=1)
def fhir_map() -> FhirMap:
    """The FHIR-specific mapping data packaged with b12dx (questionnaire URL, pregnancy codes)."""
    raw = resources.files("b12dx.knowledge").joinpath("fhir_map.toml").read_text("utf-8")
    return FhirMap.model_validate(tomllib.loads(raw))


# -- reading resources ---------------------------------------------------------------------


def iter_resources(data: Any) -> Iterator[Mapping[str, Any]]:
    """Every resource in *data*: Bundles (any type, nested) are unpacked, lists are walked."""
    if isinstance(data, Mapping):
        if data.get("resourceType") == "Bundle":
            for entry in _list(data.get("entry")):
                if isinstance(entry, Mapping) and isinstance(entry.get("resource"), Mapping):
                    yield from iter_resources(entry["resource"])
        elif isinstance(data.get("resourceType"), str):
            yield data
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        for item in data:
            yield from iter_resources(item)


def _str(value: Any) -> str | None:
    """A JSON string, or None for anything else (a malformed element)."""
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (a malformed element) as an empty one."""
    return value if isinstance(value, list) else []


def _ref(res: Mapping[str, Any], index: int) -> str:
    rid = res.get("id")
    rtype = str(res.get("resourceType"))
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else f"{rtype}[{index}]"


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in _list(concept.get("coding")) if isinstance(c, Mapping)]


def _code_of(concept: Any) -> tuple[str | None, str | None]:
    """A "system|code" label and a display for reporting an unused concept."""
    codings = _codings(concept)
    if codings:
        c = codings[0]
        return f"{c.get('system', '')}|{c.get('code', '')}", c.get("display") or (
            concept.get("text") if isinstance(concept, Mapping) else None
        )
    text = concept.get("text") if isinstance(concept, Mapping) else None
    return None, text if isinstance(text, str) else None


def _status_code(concept: Any) -> str | None:
    for c in _codings(concept):
        code = c.get("code")
        if isinstance(code, str):
            return code
    return None


def _parse_date(value: Any) -> dt.date | None:
    """FHIR date, dateTime or instant -> a date (partial dates take their first day)."""
    if not isinstance(value, str) or not value:
        return None
    m = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        d = _parse_date(value)
        return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC) if d else None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _effective(res: Mapping[str, Any]) -> str | None:
    for key in ("effectiveDateTime", "effectiveInstant", "issued"):
        if isinstance(res.get(key), str):
            return str(res[key])
    period = res.get("effectivePeriod")
    if isinstance(period, Mapping) and isinstance(period.get("start"), str):
        return str(period["start"])
    return None


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# -- code indexes over the KB --------------------------------------------------------------


@dataclass
class _Index:
    snomed: dict[str, str] = field(default_factory=dict)  # SNOMED code -> evidence id
    icd10: list[tuple[str, str]] = field(default_factory=list)  # (ICD-10 prefix, evidence id)
    loinc_evidence: dict[str, str] = field(default_factory=dict)

    def icd10_match(self, code: str) -> str | None:
        key = code.strip().upper()
        best: tuple[int, str] | None = None
        for prefix, ident in self.icd10:
            p = prefix.upper()
            # "E11" matches "E11", "E11.9" and "E119"; longest prefix wins
            if key.startswith(p) and (best is None or len(p) > best[0]):
                best = (len(p), ident)
        return best[1] if best else None


_indexes: dict[str, _Index] = {}


def _index(kb: KnowledgeBase) -> _Index:
    idx = _indexes.get(kb.sha256)
    if idx is not None:
        return idx
    idx = _Index()
    items: list[tuple[str, Any]] = [(f.id, f.codes) for f in kb.findings if f.kind != "lab"]
    items += [(r.id, r.codes) for r in kb.risk_factors]
    for ident, codes in items:
        for code in _split(codes.snomed):
            idx.snomed.setdefault(code, ident)
        for code in _split(codes.icd10):
            idx.icd10.append((code, ident))
        for code in _split(codes.loinc):
            idx.loinc_evidence.setdefault(code, ident)
    known = set(kb.evidence_ids)
    for extra in fhir_map().condition_codes:
        if extra.id not in known:
            continue  # an id this KB does not have: nothing to map to
        for code in extra.snomed:
            idx.snomed.setdefault(code, extra.id)
        idx.icd10.extend((code, extra.id) for code in extra.icd10)
    _indexes[kb.sha256] = idx
    return idx


def _split(codes: str | None) -> list[str]:
    if not codes:
        return []
    return [c.strip() for c in re.split(r"[,;\s]+", codes) if c.strip()]


# -- the importer --------------------------------------------------------------------------


@dataclass
class _Lab:
    test: LabTest
    result: LabResult
    ref: str
    when: dt.datetime | None


@dataclass
class _State:
    kb: KnowledgeBase
    as_of: dt.date
    ignored: list[Ignored] = field(default_factory=list)
    evidence: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (state, ref)
    labs: dict[str, list[_Lab]] = field(default_factory=dict)
    meds: dict[str, Medication] = field(default_factory=dict)  # drug class -> medication
    notes: list[str] = field(default_factory=list)
    patient: Mapping[str, Any] | None = None
    patient_ref: str | None = None
    pregnant: bool | None = None
    q_age: float | None = None
    q_sex: str | None = None
    by_ref: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    used: dict[str, None] = field(default_factory=dict)

    def ignore(self, ref: str, reason: str, concept: Any = None) -> None:
        code, display = _code_of(concept) if concept is not None else (None, None)
        self.ignored.append(Ignored(resource=ref, code=code, display=display, reason=reason))

    def add_evidence(self, ident: str, state: str, ref: str) -> None:
        prev = self.evidence.get(ident)
        if prev is not None and prev[0] != state:
            # a stated "present" (an active condition, a positive finding) wins over "absent"
            self.notes.append(
                f"{ident}: {prev[1]} says {prev[0]}, {ref} says {state}; kept 'present'"
            )
            state = "present"
        self.evidence[ident] = (state, ref)
        self.used[ref.split("#")[0]] = None


def case_from_fhir(
    data: Any,
    *,
    kb: KnowledgeBase | None = None,
    as_of: dt.date | None = None,
    age: float | None = None,
    sex: str | None = None,
    case_id: str | None = None,
) -> FhirImport:
    """Build a Case from FHIR R4 JSON (a Bundle, a resource, or a list of them).

    *as_of* is the date ages and medication durations are computed for (default: today).
    *age* and *sex* override (or stand in for a missing) Patient. Raises ``InputError`` when no
    age or sex can be found, or when the data describe more than one patient.
    """
    kb = kb if kb is not None else load_kb()
    st = _State(kb=kb, as_of=as_of or dt.datetime.now(dt.UTC).date())
    found = list(iter_resources(data))
    if not found:
        raise InputError(
            "no FHIR resources found: expected a Bundle, a resource with "
            "'resourceType', or a list of them"
        )
    for i, res in enumerate(found):
        st.by_ref[_ref(res, i)] = res
    handlers = {
        "Patient": _patient,
        "Observation": _observation,
        "DiagnosticReport": _diagnostic_report,
        "Condition": _condition,
        "MedicationStatement": _medication,
        "MedicationRequest": _medication,
        "QuestionnaireResponse": _questionnaire_response,
    }
    for i, res in enumerate(found):
        ref = _ref(res, i)
        handler = handlers.get(str(res.get("resourceType")))
        if handler is None:
            if res.get("resourceType") not in _SILENT:
                st.ignore(ref, f"b12dx does not read {res.get('resourceType')} resources")
            continue
        handler(st, res, ref)
    try:
        return _finish(st, age=age, sex=sex, case_id=case_id)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg']}" for e in exc.errors()
        )
        raise InputError(f"the FHIR data do not make a valid case: {problems}") from None


def _patient(st: _State, res: Mapping[str, Any], ref: str) -> None:
    if st.patient is not None and st.patient.get("id") != res.get("id"):
        raise InputError(
            f"the FHIR data describe more than one patient ({st.patient_ref} and "
            f"{ref}); send one patient's data per case"
        )
    st.patient, st.patient_ref = res, ref
    st.used[ref] = None


def _observation(st: _State, res: Mapping[str, Any], ref: str) -> None:
    status = _str(res.get("status"))
    if status not in _OBS_OK:
        why = (
            "entered in error"
            if status == "entered-in-error"
            else f"status {status!r} is not final, amended or corrected"
        )
        st.ignore(ref, why, res.get("code"))
        return
    when = _effective(res)
    used = False
    # 1. the Observation itself as a lab result
    used |= _lab_from(st, res.get("code"), res, ref, when, whole=res)
    # 2. its components (panels such as blood pressure, or a lab's own multi-analyte result)
    for j, comp in enumerate(_list(res.get("component"))):
        if isinstance(comp, Mapping) and _lab_from(
            st, comp.get("code"), comp, f"{ref}.component[{j}]", when, whole=res
        ):
            used = True
    if used:
        return
    # 3. a symptom or history item coded in SNOMED CT (or with a SNOMED CT value)
    if _evidence_from_observation(st, res, ref):
        return
    if _pregnancy_from(st, res.get("code"), ref) or _pregnancy_from(
        st, res.get("valueCodeableConcept"), ref
    ):
        return
    st.ignore(ref, "no code b12dx uses (not a KB lab LOINC code or finding code)", res.get("code"))
    for j, comp in enumerate(_list(res.get("component"))):
        if isinstance(comp, Mapping):
            st.ignore(f"{ref}.component[{j}]", "component code not used by b12dx", comp.get("code"))


def _lab_from(
    st: _State,
    concept: Any,
    part: Mapping[str, Any],
    ref: str,
    when: str | None,
    *,
    whole: Mapping[str, Any],
) -> bool:
    test = None
    loinc = None
    for c in _codings(concept):
        if c.get("system") == LOINC and isinstance(c.get("code"), str):
            test = st.kb.lab_by_loinc.get(str(c["code"]))
            if test is not None:
                loinc = str(c["code"])
                break
    if test is None:
        return False
    q = part.get("valueQuantity")
    if not isinstance(q, Mapping) or not isinstance(q.get("value"), int | float):
        reason = "no numeric valueQuantity"
        if "dataAbsentReason" in part:
            reason = "value absent (dataAbsentReason)"
        st.ignore(ref, f"{test.id}: {reason}", concept)
        return True
    unit = q.get("code") if q.get("system") == UCUM and q.get("code") else q.get("unit")
    if not isinstance(unit, str) or not unit:
        st.ignore(ref, f"{test.id}: the value has no unit", concept)
        return True
    value = float(q["value"])
    if q.get("comparator"):
        st.notes.append(
            f"{ref}: {test.id} reported as {q['comparator']}{value:g} {unit}; read as {value:g}"
        )
    try:
        canonical = convert(test, value, unit)
    except InputError as exc:
        st.ignore(ref, str(exc), concept)
        return True
    low_p, high_p = test.plausible_low.value, test.plausible_high.value
    if not low_p <= canonical <= high_p:
        st.ignore(ref, f"{test.id} value {value:g} {unit} is implausible; not used", concept)
        return True
    rr = _reference_range(part.get("referenceRange") or whole.get("referenceRange"), unit)
    date = _parse_date(when)
    result = LabResult(
        test=test.id, loinc=loinc, value=value, unit=unit, reference_range=rr, date=date
    )
    st.labs.setdefault(test.id, []).append(
        _Lab(test, result, ref.split(".component")[0], _parse_instant(when))
    )
    return True


def _reference_range(ranges: Any, unit: str) -> ReferenceRange | None:
    if not isinstance(ranges, Sequence) or not ranges or not isinstance(ranges[0], Mapping):
        return None
    rr = ranges[0]
    low = rr.get("low") if isinstance(rr.get("low"), Mapping) else None
    high = rr.get("high") if isinstance(rr.get("high"), Mapping) else None
    if low is None and high is None:
        return None
    bound = low or high or {}
    r_unit = bound.get("code") if bound.get("system") == UCUM else bound.get("unit")
    lo = low.get("value") if low else None
    hi = high.get("value") if high else None
    return ReferenceRange(
        low=float(lo) if isinstance(lo, int | float) else None,
        high=float(hi) if isinstance(hi, int | float) else None,
        unit=r_unit if isinstance(r_unit, str) and r_unit else unit,
    )


def _evidence_id(st: _State, concept: Any) -> str | None:
    idx = _index(st.kb)
    for c in _codings(concept):
        system, code = c.get("system"), c.get("code")
        if not isinstance(code, str):
            continue
        if system == SNOMED and code in idx.snomed:
            return idx.snomed[code]
        if system in ICD10:
            hit = idx.icd10_match(code)
            if hit:
                return hit
        if system == LOINC and code in idx.loinc_evidence:
            return idx.loinc_evidence[code]
    return None


def _evidence_from_observation(st: _State, res: Mapping[str, Any], ref: str) -> bool:
    ident = _evidence_id(st, res.get("code"))
    state = "present"
    if ident is not None:
        if res.get("valueBoolean") is False or _is_no(res.get("valueCodeableConcept")):
            state = "absent"
    else:
        ident = _evidence_id(st, res.get("valueCodeableConcept"))
    if ident is None:
        return False
    st.add_evidence(ident, state, ref)
    return True


def _is_no(concept: Any) -> bool:
    """A "No"/"Absent" answer (codes listed in fhir_map.toml, or the text "no")."""
    negative = {(n.system, n.code) for n in fhir_map().negative_answers}
    for c in _codings(concept):
        if (_str(c.get("system")), _str(c.get("code"))) in negative:
            return True
    text = concept.get("text") if isinstance(concept, Mapping) else None
    return isinstance(text, str) and text.strip().lower() in {"no", "absent", "negative"}


def _pregnancy_from(st: _State, concept: Any, ref: str) -> bool:
    codes = {(p.system, p.code) for p in fhir_map().pregnancy}
    for c in _codings(concept):
        if (_str(c.get("system")), _str(c.get("code"))) in codes:
            st.pregnant = True
            st.notes.append(f"{ref}: pregnancy recorded")
            return True
    return False


def _diagnostic_report(st: _State, res: Mapping[str, Any], ref: str) -> None:
    # Results usually arrive as separate entries; contained ones are read here.
    st.used[ref] = None
    for j, inner in enumerate(_list(res.get("contained"))):
        if isinstance(inner, Mapping) and inner.get("resourceType") == "Observation":
            _observation(st, inner, f"{ref}#{inner.get('id', j)}")


def _condition(st: _State, res: Mapping[str, Any], ref: str) -> None:
    verification = _status_code(res.get("verificationStatus"))
    if verification in _VERIFICATION_SKIP:
        st.ignore(ref, f"verification status {verification!r}", res.get("code"))
        return
    clinical = _status_code(res.get("clinicalStatus"))
    if clinical is not None and clinical not in _COND_ACTIVE:
        st.ignore(
            ref, f"clinical status {clinical!r} (only active conditions are used)", res.get("code")
        )
        return
    if clinical is None and res.get("abatementDateTime") is not None:
        st.ignore(ref, "the condition has abated", res.get("code"))
        return
    ident = _evidence_id(st, res.get("code"))
    if ident is not None:
        st.add_evidence(ident, "present", ref)
        return
    if _pregnancy_from(st, res.get("code"), ref):
        return
    st.ignore(
        ref, "condition code not mapped to a b12dx history or risk-factor id", res.get("code")
    )


def _medication(st: _State, res: Mapping[str, Any], ref: str) -> None:
    rtype = res.get("resourceType")
    status = _str(res.get("status"))
    if status != "active":
        st.ignore(
            ref,
            f"{rtype} status {status!r} (only active medicines are used)",
            res.get("medicationCodeableConcept"),
        )
        return
    concept = res.get("medicationCodeableConcept")
    med_ref = res.get("medicationReference")
    if concept is None and isinstance(med_ref, Mapping):
        concept = _resolve_medication_ref(st, res, med_ref)
    if concept is None:
        st.ignore(ref, "no medication code or name")
        return
    classes = _drug_classes(st, concept, ref)
    if classes is None:
        st.ignore(ref, "medication not in any b12dx drug class", concept)
        return
    start = None
    if rtype == "MedicationStatement":
        period = res.get("effectivePeriod")
        start = _parse_date(
            res.get("effectiveDateTime")
            or (period.get("start") if isinstance(period, Mapping) else None)
        )
    else:
        dispense = res.get("dispenseRequest")
        validity = dispense.get("validityPeriod") if isinstance(dispense, Mapping) else None
        start = _parse_date(
            res.get("authoredOn")
            or (validity.get("start") if isinstance(validity, Mapping) else None)
        )
    years = None
    if start is not None and start <= st.as_of:
        years = round((st.as_of - start).days / 365.25, 2)
    name = _code_of(concept)[1]
    st.used[ref] = None
    # one entry per class, as in a normalised case: a medicine of several classes (verapamil:
    # calcium-channel blocker and moderate CYP3A4 inhibitor) is listed under each
    for cls in classes:
        prev = st.meds.get(cls)
        if prev is not None and (prev.years or 0) >= (years or 0):
            continue  # the same class already, with the longer exposure
        st.meds[cls] = Medication(name=name[:200] if name else None, drug_class=cls, years=years)


def _resolve_medication_ref(st: _State, res: Mapping[str, Any], ref: Mapping[str, Any]) -> Any:
    target = ref.get("reference")
    if isinstance(target, str) and target.startswith("#"):
        for inner in _list(res.get("contained")):
            if isinstance(inner, Mapping) and inner.get("id") == target[1:]:
                return inner.get("code")
    elif isinstance(target, str):
        found = st.by_ref.get(target) or st.by_ref.get("/".join(target.split("/")[-2:]))
        if found is not None:
            return found.get("code")
    display = ref.get("display")
    return {"text": display} if isinstance(display, str) else None


def _drug_classes(st: _State, concept: Any, ref: str) -> tuple[str, ...] | None:
    """Every b12dx drug class of the medicine (primary first), or ``None``."""
    names: list[str] = []
    for c in _codings(concept):
        if c.get("system") == RXNORM and isinstance(c.get("code"), str):
            found = medication_classes(Medication(rxnorm=str(c["code"])), st.kb)
            if found is not None:
                return found  # otherwise often a clinical-drug (SCD) code: try the name
        if isinstance(c.get("display"), str):
            names.append(str(c["display"]))
    if isinstance(concept, Mapping) and isinstance(concept.get("text"), str):
        names.insert(0, str(concept["text"]))
    for name in names:
        found = medication_classes(Medication(name=name[:200]), st.kb)
        if found is not None:
            return found
    return None


def _questionnaire_response(st: _State, res: Mapping[str, Any], ref: str) -> None:
    url = fhir_map().questionnaire_url
    q = res.get("questionnaire")
    if not isinstance(q, str) or q.split("|")[0] != url:
        st.ignore(ref, f"not a response to b12dx's questionnaire ({url})")
        return
    if res.get("status") not in ("completed", "amended"):
        st.ignore(
            ref,
            f"questionnaire response status {res.get('status')!r} "
            "(only completed or amended responses are used)",
        )
        return
    st.used[ref] = None
    for item in _walk_items(res.get("item")):
        _answer(st, item, f"{ref}#{item.get('linkId')}")


def _walk_items(items: Any) -> Iterator[Mapping[str, Any]]:
    for item in _list(items):
        if not isinstance(item, Mapping):
            continue
        if item.get("answer"):
            yield item
        yield from _walk_items(item.get("item"))


def _answer(st: _State, item: Mapping[str, Any], ref: str) -> None:
    link = str(item.get("linkId", ""))
    answer = item["answer"][0] if isinstance(item["answer"], list) else {}
    if not isinstance(answer, Mapping):
        return
    if link == "age":
        value = answer.get("valueInteger", answer.get("valueDecimal"))
        if isinstance(value, int | float):
            st.q_age = float(value)
        return
    if link == "sex":
        coding = answer.get("valueCoding")
        value = coding.get("code") if isinstance(coding, Mapping) else answer.get("valueString")
        if isinstance(value, str):
            st.q_sex = value
        return
    if link == "pregnant":
        if isinstance(answer.get("valueBoolean"), bool):
            st.pregnant = bool(answer["valueBoolean"])
        return
    state = _answer_state(answer)
    if state is None:
        st.ignore(ref, "answer is not yes/no/unknown")
        return
    try:
        from .case import resolve_evidence_id

        ident = resolve_evidence_id(link, st.kb, where=ref)
    except UnknownIdError as exc:
        st.ignore(ref, str(exc))
        return
    if ident in st.kb.drug_class_by_id:
        if state == "present":
            st.meds.setdefault(ident, Medication(drug_class=ident))
        return
    st.add_evidence(ident, state, ref)


def _answer_state(answer: Mapping[str, Any]) -> Literal["present", "absent", "unknown"] | None:
    if isinstance(answer.get("valueBoolean"), bool):
        return "present" if answer["valueBoolean"] else "absent"
    coding = answer.get("valueCoding")
    code = coding.get("code") if isinstance(coding, Mapping) else answer.get("valueString")
    if code in ("present", "yes", "Y"):
        return "present"
    if code in ("absent", "no", "N"):
        return "absent"
    if code in ("unknown", "UNK", "asked-unknown"):
        return "unknown"
    return None


def _finish(st: _State, *, age: float | None, sex: str | None, case_id: str | None) -> FhirImport:
    p = st.patient
    if age is None and p is not None:
        birth = _parse_date(p.get("birthDate"))
        if birth is not None:
            if birth > st.as_of:
                raise InputError(
                    f"Patient.birthDate {birth.isoformat()} is after the as-of date "
                    f"{st.as_of.isoformat()}",
                    where=st.patient_ref,
                )
            age = float(_age(birth, st.as_of))
    if age is None:
        age = st.q_age
    if sex is None and p is not None and p.get("gender") in ("female", "male"):
        sex = str(p["gender"])
    if sex is None:
        sex = st.q_sex
    if age is None:
        raise InputError(
            "no age: the FHIR data have no Patient.birthDate (and no 'age' "
            "answer); give the age explicitly"
        )
    if sex is None:
        gender = p.get("gender") if p is not None else None
        detail = f"Patient.gender is {gender!r}" if gender else "there is no Patient.gender"
        raise InputError(
            f"no sex for reference ranges and priors: {detail}; b12dx needs "
            "'female' or 'male', give it explicitly"
        )
    chosen: dict[str, str] = {}
    labs: list[LabResult] = []
    for test_id, items in st.labs.items():
        # latest dated result wins; undated results only when nothing is dated
        items_sorted = sorted(
            items,
            key=lambda x: (x.when is not None, x.when or dt.datetime.min.replace(tzinfo=dt.UTC)),
        )
        best = items_sorted[-1]
        for other in items_sorted[:-1]:
            st.ignore(other.ref, f"{test_id}: superseded by the later result in {best.ref}")
        labs.append(best.result)
        chosen[test_id] = best.ref
        st.used[best.ref.split("#")[0]] = None
    evidence = [
        EvidenceItem(id=ident, state=state, source="fhir")
        for ident, (state, _ref) in st.evidence.items()
    ]
    pregnant = bool(st.pregnant) and sex == "female"
    if st.pregnant and sex != "female":
        st.notes.append("pregnancy recorded for a patient whose sex is not female; ignored")
    pid = p.get("id") if p is not None else None
    case = Case(
        id=case_id or (str(pid) if pid else None),
        age=age,
        sex=sex,
        pregnant=pregnant,
        evidence=evidence,
        medications=list(st.meds.values()),
        labs=labs,
    )
    return FhirImport(
        case=case,
        ignored=st.ignored,
        observations=chosen,
        patient=st.patient_ref if p is not None else None,
        used=list(st.used),
        notes=st.notes,
    )


# -- b12dx's own Questionnaire -------------------------------------------------------------


def questionnaire(kb: KnowledgeBase | None = None) -> dict[str, Any]:
    """A FHIR R4 Questionnaire of every question b12dx can ask (red flags first).

    A QuestionnaireResponse to it (linkIds are evidence ids) is read by ``case_from_fhir``.
    """
    kb = kb if kb is not None else load_kb()
    yes_no = [
        {
            "valueCoding": {
                "system": fhir_map().questionnaire_url + "/answers",
                "code": code,
                "display": label,
            }
        }
        for code, label in (("present", "Yes"), ("absent", "No"), ("unknown", "Don't know"))
    ]

    def group(link: str, text: str, entries: Iterable[tuple[str, str]]) -> dict[str, Any]:
        return {
            "linkId": link,
            "text": text,
            "type": "group",
            "item": [
                {"linkId": ident, "text": question, "type": "choice", "answerOption": yes_no}
                for ident, question in entries
            ],
        }

    red = [(f.id, f.question) for f in kb.findings if f.kind == "red_flag" and f.question]
    other = [
        (f.id, f.question) for f in kb.findings if f.kind not in ("red_flag", "lab") and f.question
    ]
    risks = [(r.id, r.question) for r in kb.risk_factors if r.question]
    return {
        "resourceType": "Questionnaire",
        "id": "b12dx",
        "url": fhir_map().questionnaire_url,
        "version": kb.version,
        "name": "B12dxCrampQuestionnaire",
        "title": "Muscle cramps: B12 deficiency, electrolytes or something else?",
        "status": "active",
        "subjectType": ["Patient"],
        "item": [
            {
                "linkId": "about",
                "text": "About you",
                "type": "group",
                "item": [
                    {
                        "linkId": "age",
                        "text": "How old are you (years)?",
                        "type": "integer",
                        "required": True,
                    },
                    {
                        "linkId": "sex",
                        "text": "Sex",
                        "type": "choice",
                        "required": True,
                        "answerOption": [
                            {
                                "valueCoding": {
                                    "system": "http://hl7.org/fhir/administrative-gender",
                                    "code": c,
                                    "display": c.title(),
                                }
                            }
                            for c in ("female", "male")
                        ],
                    },
                    {"linkId": "pregnant", "text": "Are you pregnant?", "type": "boolean"},
                ],
            },
            group("red-flags", "Warning signs", red),
            group("symptoms", "Symptoms", other),
            group("history", "History and risk factors", risks),
        ],
    }
