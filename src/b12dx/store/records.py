"""Longitudinal records: pydantic models at the edges of the store (``b12dx/records/v1``).

``*In`` models are what a caller writes (CLI options, request bodies, JSON Lines import);
the other models are what the store returns. Every stored record has a ``uid`` (a UUID that
travels with it through export and import, so a second import of the same file adds nothing)
and a ``created_at`` timestamp in UTC. This module imports neither SQLAlchemy nor matplotlib, so
``b12dx.monitor`` can use it cheaply.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "RECORDS_SCHEMA",
    "SYMPTOM_FIELDS",
    "Assessment",
    "Lab",
    "LabIn",
    "Outcome",
    "Person",
    "PersonIn",
    "Review",
    "ReviewIn",
    "Route",
    "Symptoms",
    "SymptomsIn",
    "Timeline",
    "Treatment",
    "TreatmentIn",
    "User",
]

RECORDS_SCHEMA = "b12dx/records/v1"
Route = Literal["intramuscular", "oral", "intravenous", "sublingual", "nasal", "other"]
Outcome = Literal["improved", "not_improved", "worse"]
Sex = Literal["female", "male"]

# The symptom diary: each is a 0-10 self-rating (0 = none), except cramps_per_week (a count).
SYMPTOM_FIELDS = (
    "cramps_per_week",
    "worst_severity",
    "tightness",
    "tingling_numbness",
    "balance",
    "fatigue",
)
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
UID_PATTERN = r"^[0-9a-f]{32}$"

Score = Annotated[int | None, Field(ge=0, le=10)]


# Dates outside this span are typing errors (and would overflow date arithmetic); not clinical.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2200, 1, 1)


def _check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _sane(cls, v: object) -> object:
        """Text any database stores as given; dates and timestamps in a plausible span."""
        if isinstance(v, str):
            return _check_text(v)
        if isinstance(v, list):
            for item in v:
                if isinstance(item, str):
                    _check_text(item)
        day = v.date() if isinstance(v, dt.datetime) else v
        if isinstance(day, dt.date) and not EARLIEST <= day <= LATEST:
            raise ValueError(f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
        if isinstance(v, dt.datetime) and v.utcoffset() is not None:
            try:
                v.astimezone(dt.UTC)
            except OverflowError:
                raise ValueError("is out of range") from None
        return v


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Event(_In):
    # Given when importing, so that a record keeps its identity; generated otherwise.
    uid: str | None = Field(default=None, pattern=UID_PATTERN)
    created_at: dt.datetime | None = None
    note: str | None = Field(default=None, max_length=2000)


# -- people --------------------------------------------------------------------------------


class PersonIn(_In):
    """A person whose treatment is followed; ``ref`` is the caller's own key (no names needed)."""

    ref: str = Field(pattern=REF_PATTERN)
    sex: Sex | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    # Risk factors and conditions from the KB vocabulary, e.g. autoimmune_gastritis, gastrectomy.
    conditions: list[str] = Field(default_factory=list, max_length=50)
    uid: str | None = Field(default=None, pattern=UID_PATTERN)
    created_at: dt.datetime | None = None


class Person(_Out):
    uid: str
    ref: str
    sex: Sex | None
    pregnant: bool
    breastfeeding: bool
    conditions: tuple[str, ...]
    created_at: dt.datetime


# -- labs ----------------------------------------------------------------------------------


class LabIn(_Event):
    """A laboratory result, by b12dx test id (or a synonym) in any accepted unit."""

    test: str = Field(min_length=1, max_length=60)
    value: float
    unit: str = Field(min_length=1, max_length=30)
    date: dt.date

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class Lab(_Out):
    uid: str
    test: str
    value: float
    unit: str
    date: dt.date
    note: str | None
    created_at: dt.datetime


# -- symptom diary -------------------------------------------------------------------------


class SymptomsIn(_Event):
    """One diary entry: cramp episodes in the past week and 0-10 ratings (0 = none)."""

    date: dt.date
    cramps_per_week: int | None = Field(default=None, ge=0, le=1000)
    worst_severity: Score = None
    tightness: Score = None
    tingling_numbness: Score = None
    balance: Score = None
    fatigue: Score = None


class Symptoms(_Out):
    uid: str
    date: dt.date
    cramps_per_week: int | None
    worst_severity: int | None
    tightness: int | None
    tingling_numbness: int | None
    balance: int | None
    fatigue: int | None
    note: str | None
    created_at: dt.datetime


# -- treatments ----------------------------------------------------------------------------


class TreatmentIn(_Event):
    """A course of treatment; a change of dose, frequency or route starts a new course."""

    started_on: dt.date
    route: Route
    product: str = Field(min_length=1, max_length=200)
    dose: str = Field(min_length=1, max_length=100)  # e.g. "1 mg", "1000 micrograms"
    frequency: str = Field(min_length=1, max_length=100)  # e.g. "every 2 months"
    indication: str = Field(default="b12_deficiency", max_length=100)  # a KB cause id
    lifelong: bool = False  # the cause is irreversible (e.g. pernicious anaemia)
    stopped_on: dt.date | None = None
    stop_reason: str | None = Field(default=None, max_length=500)


class Treatment(_Out):
    uid: str
    started_on: dt.date
    stopped_on: dt.date | None
    route: Route
    product: str
    dose: str
    frequency: str
    indication: str
    lifelong: bool
    stop_reason: str | None
    note: str | None
    created_at: dt.datetime

    def active_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.stopped_on is None or day < self.stopped_on)


# -- stored assessments and reviews --------------------------------------------------------


class Assessment(_Out):
    """A stored ``b12dx.assess`` result (``data`` is the Assessment JSON)."""

    uid: str
    date: dt.date
    triage_level: str
    top_cause: str
    data: dict[str, object]
    created_at: dt.datetime


class ReviewIn(_Event):
    """A follow-up review as it was held: its date and the response the clinician judged."""

    date: dt.date
    outcome: Outcome
    treatment_uid: str | None = Field(default=None, pattern=UID_PATTERN)


class Review(_Out):
    uid: str
    date: dt.date
    outcome: Outcome
    treatment_uid: str | None
    note: str | None
    created_at: dt.datetime


class Timeline(_Out):
    """Everything stored for one person, each list in date order."""

    person: Person
    labs: tuple[Lab, ...] = ()
    symptoms: tuple[Symptoms, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    reviews: tuple[Review, ...] = ()


class User(_Out):
    id: int
    name: str
    is_admin: bool
    created_at: dt.datetime
