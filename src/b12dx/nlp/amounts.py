"""Amounts stated in text compared with a sourced threshold (``knowledge/nlp_amounts.toml``).

"One drink a day" matches the lexicon's alcohol phrases, but it is not alcohol excess: the amount
is converted to the record's quantity per week and compared with its ``per_week_over``. The
numbers live in the TOML file with their sources; this module only does the arithmetic.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import KnowledgeBaseError
from .extract import to_number

__all__ = ["AMOUNTS_FILE", "Amount", "Amounts", "Vital", "VitalsNormal", "amounts", "weekly_amount"]

AMOUNTS_FILE = "nlp_amounts.toml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    id: str
    title: str
    body: str
    url: str
    kind: str
    year: int | None = None
    note: str = ""


class Measure(_Frozen):
    words: tuple[str, ...]
    size: float
    sources: tuple[str, ...]
    evidence: str
    rationale: str


class Period(_Frozen):
    words: tuple[str, ...]
    per_week: float


class Amount(_Frozen):
    id: str
    quantity: str
    per_week_over: float
    sources: tuple[str, ...]
    evidence: str
    rationale: str
    measure: tuple[Measure, ...]
    period: tuple[Period, ...]


class Vital(_Frozen):
    """A vital sign read from a number: beyond ``present_*`` the finding, within ``absent_*``
    not."""

    id: str
    measure: str
    words: tuple[str, ...]
    # "HR 130", the first number of "BP 80/60", or a number with a decimal ("T 37.8")
    pattern: Literal["single", "systolic", "decimal"]
    present_above: float | None = None
    present_at_least: float | None = None
    present_at_most: float | None = None
    absent_at_most: float | None = None
    absent_at_least: float | None = None
    absent_below: float | None = None
    plausible: tuple[float, float]
    sources: tuple[str, ...]
    evidence: str
    rationale: str
    # words that deny the finding when said of the measure ("BP normal", "blood pressure was
    # high"), and those that deny it said before it ("a normal heart rate")
    told_absent: tuple[str, ...] = ()
    told_absent_before: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_rule_each(self) -> Vital:
        present = (self.present_above, self.present_at_least, self.present_at_most)
        absent = (self.absent_at_most, self.absent_at_least, self.absent_below)
        if sum(x is not None for x in present) != 1:
            raise ValueError(
                f"vital {self.id!r}: one of present_above, present_at_least, present_at_most"
            )
        if sum(x is not None for x in absent) != 1:
            raise ValueError(
                f"vital {self.id!r}: one of absent_at_most, absent_at_least, absent_below"
            )
        return self

    def state(self, value: float) -> str | None:
        """``present``, ``absent`` or None (implausible, or between the two limits)."""
        low, high = self.plausible
        if not low <= value <= high:
            return None
        if (
            (self.present_above is not None and value > self.present_above)
            or (self.present_at_least is not None and value >= self.present_at_least)
            or (self.present_at_most is not None and value <= self.present_at_most)
        ):
            return "present"
        if (
            (self.absent_at_most is not None and value <= self.absent_at_most)
            or (self.absent_at_least is not None and value >= self.absent_at_least)
            or (self.absent_below is not None and value < self.absent_below)
        ):
            return "absent"
        return None


class VitalsNormal(_Frozen):
    ids: tuple[str, ...]
    phrases: tuple[str, ...]


class Amounts(_Frozen):
    version: str
    source: tuple[Source, ...]
    amount: tuple[Amount, ...]
    vital: tuple[Vital, ...] = ()
    vitals_normal: VitalsNormal | None = None

    @model_validator(mode="after")
    def _sourced(self) -> Amounts:
        known = {s.id for s in self.source}
        for a in self.amount:
            cited = [*a.sources, *(s for m in a.measure for s in m.sources)]
            missing = sorted({s for s in cited if s not in known})
            if missing or not a.sources or any(not m.sources for m in a.measure):
                raise ValueError(f"amount {a.id!r}: every number needs a listed source {missing}")
        for v in self.vital:
            missing = sorted({s for s in v.sources if s not in known})
            if missing or not v.sources:
                raise ValueError(f"vital {v.id!r}: every number needs a listed source {missing}")
        return self

    def get(self, ident: str) -> Amount | None:
        return next((a for a in self.amount if a.id == ident), None)


@lru_cache(maxsize=1)
def amounts() -> Amounts:
    """The packaged amounts file, read and checked once."""
    from ..errors import Issue

    entry = resources.files("b12dx.knowledge") / AMOUNTS_FILE
    try:
        return Amounts.model_validate(tomllib.loads(entry.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise KnowledgeBaseError([Issue(AMOUNTS_FILE, f"cannot read: {exc}")]) from None


_NUM = re.compile(r"(\d+(?:[.,]\d+)?|[a-z]+)")


def _has(words: tuple[str, ...], text: str) -> bool:
    return any(re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", text) for w in words)


def weekly_amount(phrase: str, amount: Amount) -> float | None:
    """The amount a phrase states per week in the record's quantity ("one drink a day": 12.25
    units), or None when it names no number, measure or period the record knows."""
    low = " ".join(phrase.lower().split())
    measure = next((m for m in amount.measure if _has(m.words, low)), None)
    period = next((p for p in amount.period if _has(p.words, low)), None)
    if measure is None or period is None:
        return None
    number = next(
        (n for tok in _NUM.findall(low) if (n := to_number(tok)) is not None and n > 0), None
    )
    if number is None:
        return None
    return number * measure.size * period.per_week
