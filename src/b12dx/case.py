"""The Case: what b12dx is told about a person (schema ``b12dx/case/v1``).

``Case`` is the input model, as a user writes it. ``normalise(case, kb)`` resolves ids, aliases,
medication names and lab units against the knowledge base and returns a ``Case`` whose ids are
canonical, whose medications carry their drug class and whose labs are in canonical units; it
raises an ``InputError`` subclass with a precise message for anything it cannot accept.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import (
    ConflictError,
    ImplausibleValueError,
    InputError,
    OutOfScopeError,
    UnknownIdError,
)
from .kb import KnowledgeBase

__all__ = [
    "CASE_SCHEMA",
    "Case",
    "EvidenceItem",
    "LabResult",
    "Medication",
    "ReferenceRange",
    "load_case",
    "normalise",
    "parse_case",
]

CASE_SCHEMA = "b12dx/case/v1"
State = Literal["present", "absent", "unknown"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EvidenceItem(_In):
    """A symptom, sign, time course, trigger or risk factor and whether the person has it."""

    id: str = Field(min_length=1, max_length=100)
    state: State = "present"
    initial: bool = False  # the presenting complaint
    source: str | None = Field(default=None, max_length=200)  # e.g. "interview", "fhir", "text"


class Medication(_In):
    """A medicine the person takes, by name, brand, RxNorm code or b12dx drug class."""

    name: str | None = Field(default=None, max_length=200)
    rxnorm: str | None = Field(default=None, max_length=20)
    drug_class: str | None = Field(default=None, max_length=100)
    years: float | None = Field(default=None, ge=0, le=100)


class ReferenceRange(_In):
    """The reporting laboratory's own reference range (in the result's unit unless given)."""

    low: float | None = None
    high: float | None = None
    unit: str | None = Field(default=None, max_length=30)


class LabResult(_In):
    """A laboratory result, by b12dx test id or LOINC code."""

    test: str | None = Field(default=None, max_length=60)
    loinc: str | None = Field(default=None, max_length=20)
    value: float
    unit: str = Field(max_length=30)
    reference_range: ReferenceRange | None = None
    date: dt.date | None = None
    original_value: float | None = None  # filled by normalisation
    original_unit: str | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return v


class Case(_In):
    """Everything b12dx is told about one person."""

    schema_: Literal["b12dx/case/v1"] = Field(default="b12dx/case/v1", alias="schema")
    id: str | None = Field(default=None, max_length=200)
    age: float = Field(ge=0, le=150)
    sex: Literal["female", "male"]
    pregnant: bool = False
    breastfeeding: bool = False
    evidence: list[EvidenceItem] = Field(default_factory=list, max_length=500)
    medications: list[Medication] = Field(default_factory=list, max_length=100)
    labs: list[LabResult] = Field(default_factory=list, max_length=200)

    @field_validator("sex", mode="before")
    @classmethod
    def _sex_aliases(cls, v: Any) -> Any:
        if isinstance(v, str):
            low = v.strip().lower()
            return {"f": "female", "m": "male", "woman": "female", "man": "male"}.get(low, low)
        return v

    def present(self) -> set[str]:
        return {e.id for e in self.evidence if e.state == "present"}

    def absent(self) -> set[str]:
        return {e.id for e in self.evidence if e.state == "absent"}


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "case"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not part of the b12dx/case/v1 schema)"
        elif err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "sex":
            msg = "sex must be 'female' or 'male'"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_case(data: Any) -> Case:
    """Validate plain data (a dict from JSON or YAML) into a ``Case``."""
    if not isinstance(data, Mapping):
        raise InputError(f"a case must be a JSON/YAML object, not {type(data).__name__}")
    try:
        return Case.model_validate(dict(data))
    except ValidationError as exc:
        raise InputError(_format_validation(exc)) from None


def load_case(path: str | Path, text: str | None = None) -> Case:
    """Read a case from a JSON or YAML file (``text`` given: parse that, named ``path``)."""
    p = Path(path)
    if text is None:
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {p}: {exc.strerror}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise InputError(f"{p} is not valid JSON/YAML: {exc}") from None
    except Exception as exc:  # yaml.YAMLError does not derive from ValueError
        raise InputError(f"{p} is not valid YAML: {exc}") from None
    return parse_case(data)


_ID_CLEAN = re.compile(r"[\s\-]+")


def canonical_id(raw: str) -> str:
    """Ids are matched case-insensitively, with hyphens and spaces read as underscores."""
    return _ID_CLEAN.sub("_", raw.strip().lower())


def resolve_evidence_id(raw: str, kb: KnowledgeBase, *, where: str | None = None) -> str:
    ident = canonical_id(raw)
    if ident in kb.alias_map:
        ident = kb.alias_map[ident]
    if ident in kb.finding_by_id and kb.finding_by_id[ident].kind != "lab":
        return ident
    if ident in kb.risk_factor_by_id:
        return ident
    if ident in kb.drug_class_by_id:
        return ident
    raise UnknownIdError(
        "evidence id", raw, kb.evidence_ids, where=where, listing="b12dx kb findings"
    )


def medication_classes(med: Medication, kb: KnowledgeBase) -> tuple[str, ...] | None:
    """Every drug class id of a medication (by class, RxNorm code, generic or brand name), its
    primary class first, or ``None`` when the KB does not know it.

    A medicine may belong to more than one class (``also`` in medications.toml: verapamil is a
    calcium-channel blocker and a moderate CYP3A4 inhibitor). A medication given by class alone
    has that class only; given by class and name, the class comes first and the named medicine's
    other classes follow when the medicine belongs to that class (so a normalised case, which
    lists a medicine once per class, normalises to itself)."""
    index = _medication_index(kb)
    named: tuple[str, ...] | None = None
    if med.rxnorm:
        named = index.rxnorm.get(med.rxnorm.strip())
    elif med.name:
        key = med.name.strip().lower()
        named = index.names.get(key)
        if named is None:
            # "omeprazole 20 mg capsules" -> first word that is a known name
            for token in re.split(r"[\s,/()]+", key):
                if token in index.names:
                    named = index.names[token]
                    break
    if med.drug_class:
        ident = canonical_id(med.drug_class)
        if ident not in kb.drug_class_by_id:
            return None
        if named is not None and ident in named:
            return (ident, *(c for c in named if c != ident))
        return (ident,)
    return named


def find_medication(med: Medication, kb: KnowledgeBase) -> str | None:
    """The (primary) drug class id for a medication (by class, RxNorm code, generic or brand
    name), or ``None`` when the KB does not know it (without working out suggestions)."""
    found = medication_classes(med, kb)
    return found[0] if found else None


def resolve_medication(med: Medication, kb: KnowledgeBase, *, where: str) -> str:
    """The (primary) drug class id for a medication (by class, RxNorm code, generic or brand
    name); an ``UnknownIdError`` with suggestions when the KB does not know it."""
    return resolve_medication_classes(med, kb, where=where)[0]


def resolve_medication_classes(
    med: Medication, kb: KnowledgeBase, *, where: str
) -> tuple[str, ...]:
    """Every drug class id of a medication, primary first (see ``medication_classes``); an
    ``UnknownIdError`` with suggestions when the KB does not know it."""
    found = medication_classes(med, kb)
    if found:
        return found
    index = _medication_index(kb)
    if med.drug_class:
        raise UnknownIdError(
            "drug class",
            med.drug_class,
            kb.drug_class_by_id,
            where=where,
            listing="b12dx kb medications",
        )
    if med.rxnorm:
        raise UnknownIdError(
            "RxNorm ingredient code",
            med.rxnorm.strip(),
            index.rxnorm,
            where=where,
            listing="b12dx kb medications",
        )
    if med.name:
        raise UnknownIdError(
            "medication", med.name, index.display, where=where, listing="b12dx kb medications"
        )
    raise InputError("a medication needs a name, an rxnorm code or a drug_class", where=where)


class _MedIndex:
    def __init__(self, kb: KnowledgeBase) -> None:
        # every class of the medicine a name or code denotes, primary first
        self.names: dict[str, tuple[str, ...]] = {}
        self.rxnorm: dict[str, tuple[str, ...]] = {}
        self.display: list[str] = []
        for cls in kb.drug_classes:
            self.names[cls.id] = (cls.id,)
            for drug in cls.drugs:
                classes = kb.classes_of_drug[drug.name.lower()]
                self.names[drug.name.lower()] = classes
                self.display.append(drug.name)
                for brand in drug.brands:
                    self.names[brand.lower()] = classes
                    self.display.append(brand)
                if drug.rxnorm:
                    self.rxnorm[drug.rxnorm] = classes


_med_cache: dict[str, _MedIndex] = {}


def _medication_index(kb: KnowledgeBase) -> _MedIndex:
    idx = _med_cache.get(kb.sha256)
    if idx is None:
        idx = _med_cache[kb.sha256] = _MedIndex(kb)
    return idx


def normalise(case: Case, kb: KnowledgeBase) -> Case:
    """Resolve every id, medication and lab against the KB; reject what cannot be assessed."""
    from .labs import normalise_labs

    meta = kb.meta
    if case.age < meta.min_age.value:
        raise OutOfScopeError(meta.child_refusal, where="age")
    if case.age > meta.max_age.value:
        raise ImplausibleValueError(
            "age", case.age, meta.min_age.value, meta.max_age.value, "years", where="age"
        )
    if case.pregnant and case.sex != "female":
        raise ConflictError("pregnant is true but sex is 'male'", where="pregnant")

    seen: dict[str, tuple[int, str]] = {}
    evidence: list[EvidenceItem] = []
    for i, item in enumerate(case.evidence):
        where = f"evidence[{i}]"
        ident = resolve_evidence_id(item.id, kb, where=where)
        if ident in kb.drug_class_by_id:
            raise InputError(
                f"{item.id!r} is a medication class; list it under 'medications' "
                f"(with years if known)",
                where=where,
            )
        if ident in seen:
            j, state = seen[ident]
            kind = "contradicts" if state != item.state else "repeats"
            raise ConflictError(f"{ident!r} {kind} evidence[{j}] ({state})", where=where)
        seen[ident] = (i, item.state)
        evidence.append(item if ident == item.id else item.model_copy(update={"id": ident}))

    # one entry per drug class taken: a medicine of several classes (``also``) appears once
    # for each, with its name and years, so every "takes a medicine of class X" test reads
    # ``drug_class`` alone
    meds: list[Medication] = []
    classes: dict[str, int] = {}
    for i, med in enumerate(case.medications):
        where = f"medications[{i}]"
        for cls in resolve_medication_classes(med, kb, where=where):
            if cls in classes:
                # two drugs of one class: keep the longer exposure
                j = classes[cls]
                prev = meds[j]
                years = (
                    max(prev.years or 0.0, med.years or 0.0) if (prev.years or med.years) else None
                )
                meds[j] = prev.model_copy(update={"years": years})
                continue
            classes[cls] = len(meds)
            meds.append(
                med if med.drug_class == cls else med.model_copy(update={"drug_class": cls})
            )

    labs = normalise_labs(case.labs, kb, sex=case.sex, pregnant=case.pregnant)
    return case.model_copy(update={"evidence": evidence, "medications": meds, "labs": labs})
