"""The Assessment: what b12dx answers (schema ``b12dx/assessment/v1``).

These are output models only; ``assessment.assess()`` builds them. Field names follow
``design.md``; ``for`` is a Python keyword, so the model field is ``for_`` with the JSON alias
``for``. Every list of advice carries the ids of its sources, and ``sources`` at the end resolves
every id used anywhere in the Assessment.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .case import Case

__all__ = [
    "ASSESSMENT_SCHEMA",
    "Advice",
    "Assessment",
    "CauseResult",
    "ComparisonRow",
    "Contribution",
    "DietFood",
    "DietPlan",
    "KbStamp",
    "LabInterpretation",
    "NextTest",
    "Reason",
    "SourceRef",
    "TreatmentPlan",
    "TriageResult",
]

ASSESSMENT_SCHEMA = "b12dx/assessment/v1"
Level = Literal["emergency_ambulance", "emergency", "consultation_24", "consultation", "self_care"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_M = TypeVar("_M", bound=_Out)


def trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """An output model from values that are valid by construction (validated KB data and
    computed numbers), every field of the model given by its Python name. This is
    ``model_construct`` without its per-field default and alias pass, which matters for the
    hundreds of contributions of an assessment; ``tests/test_result.py`` checks the two agree."""
    m = cls.__new__(cls)
    _SET_DICT(m, values)
    _SET_FIELDS(m, set(_fields(cls)))
    _SET_EXTRA(m, None)
    _SET_PRIVATE(m, None)
    return m


def trusted_all(cls: type[_M], rows: list[dict[str, Any]]) -> list[_M]:
    """``trusted`` for many rows of one model (the explanation's contributions)."""
    n = len(rows)
    out = list(map(cls.__new__, repeat(cls, n)))
    # every field is given, so every instance's set of given fields is the model's fields (the
    # set is pydantic's to hold; a frozen model never adds to it)
    given = set(_fields(cls))
    for setter, values in (
        (_SET_DICT, rows),
        (_SET_FIELDS, repeat(given, n)),
        (_SET_EXTRA, repeat(None, n)),
        (_SET_PRIVATE, repeat(None, n)),
    ):
        deque(map(setter, out, values), maxlen=0)
    return out


# pydantic's instance slots, set through their descriptors: cheaper than object.__setattr__
_SET_DICT, _SET_FIELDS, _SET_EXTRA, _SET_PRIVATE = (
    vars(BaseModel)[slot].__set__
    for slot in (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    )
)
_all_fields: dict[type[BaseModel], frozenset[str]] = {}


def _fields(cls: type[BaseModel]) -> frozenset[str]:
    names = _all_fields.get(cls)
    if names is None:
        names = _all_fields[cls] = frozenset(cls.model_fields)
    return names


class Reason(_Out):
    text: str
    sources: list[str]
    rule: str | None = None  # the KB rule that produced it
    action: str | None = None  # what to do now, in plain words


class TriageResult(_Out):
    level: Level
    reasons: list[Reason]


class Contribution(_Out):
    """How much one piece of evidence moved the log-odds of a cause (leave-one-out)."""

    evidence: str  # evidence id, drug class id, or "lab:<test>:<band>"
    label: str  # plain-language name
    state: str  # present / absent / taken / a lab band label
    log_odds: float
    sources: list[str]


class CauseResult(_Out):
    id: str
    name: str
    lay_name: str
    group: Literal["b12", "electrolyte", "other"]
    probability: float
    prior: float
    for_: list[Contribution] = Field(alias="for")
    against: list[Contribution]
    confirm_with: str | None = None


class LabInterpretation(_Out):
    test: str
    name: str
    value: float
    unit: str
    band: str | None
    band_label: str | None
    abnormal: bool
    text: str
    original_value: float | None = None
    original_unit: str | None = None
    reference: Literal["guideline", "local", "none"] = "guideline"
    derived: bool = False
    sources: list[str]


class NextTest(_Out):
    test: str
    name: str
    why: str
    expected_information_gain: float
    rule: str | None = None
    sources: list[str]


class TreatmentPlan(_Out):
    cause: str
    option: str
    route: Literal["intramuscular", "oral", "intravenous", "none"]
    regimen: str
    why: str
    lifelong: bool
    monitoring: list[str]
    warnings: list[str]
    sources: list[str]


class DietFood(_Out):
    name: str
    serving: str
    ug: float
    fortified: bool
    servings_to_target: float
    sources: list[str]


class DietPlan(_Out):
    target_ug_per_day: float
    life_stage: str
    diet: Literal["omnivore", "vegetarian", "vegan"]
    foods: list[DietFood]
    supplement: str | None
    sources: list[str]


class Advice(_Out):
    id: str
    text: str
    sources: list[str]


class ComparisonRow(_Out):
    feature: str
    b12_deficiency: str
    electrolyte: str
    other: str
    this_person: Literal["b12_deficiency", "electrolyte", "other", "mixed", "unknown"]
    matched: list[str]
    sources: list[str]


class SourceRef(_Out):
    id: str
    title: str
    body: str
    year: int | None
    url: str
    note: str | None = None


class KbStamp(_Out):
    version: str
    sha256: str


class Assessment(_Out):
    """The result of ``assess()``: triage, differential, labs, plan, sources and provenance."""

    schema_: Literal["b12dx/assessment/v1"] = Field(default="b12dx/assessment/v1", alias="schema")
    case_id: str | None
    case: Case
    triage: TriageResult
    differential: list[CauseResult]
    labs: list[LabInterpretation]
    next_tests: list[NextTest]
    treatment: TreatmentPlan | None
    other_treatments: list[TreatmentPlan]
    monitoring: list[Advice]
    diet: DietPlan | None
    prevention: list[Advice]
    comparison: list[ComparisonRow]
    warnings: list[Advice]
    disclaimer: str
    sources: list[SourceRef]
    kb: KbStamp
    b12dx_version: str

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)

    @property
    def top_cause(self) -> CauseResult:
        return self.differential[0]
