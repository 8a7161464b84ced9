"""Vital signs told as numbers ("HR 130", "BP 80/60", "pulse 96"), or told normal ("BP fine",
"obs normal").

Clinical notes give the pulse and blood pressure as readings rather than words; the limits that
make a reading a finding (or deny it) live in ``knowledge/nlp_amounts.toml`` with their sources.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from .amounts import Vital, amounts
from .models import EvidenceMention

__all__ = ["find_vitals"]

# between the measurement's name and its number: "HR of 130", "pulse was 96", "BP: 80/60"
# (each run of spaces belongs to exactly one \s*, so a long run of links cannot backtrack
# exponentially)
# ("took my pulse and it was 100")
_LINK = (
    r"(?:\s*(?:[:=~-]|(?:of|was|is|were|at|around|about|approx\.?|approximately|(?:and\s+)?it)"
    r"(?!\w)))*\s*"
)
# what may not follow a reading: more digits, a percentage, a dose, a size or an age
_NOT_AFTER = r"\d|%|mg|mmol|kg|cm|mm\b|years|yrs"
# "P 84/min" is a rate; "84/60" is not
_SINGLE = r"(\d{2,3})(?!\s*(?:/(?!\s*min)|" + _NOT_AFTER + "))"
# "T 37.8", "temp 36.5C" (not "98.4F": Fahrenheit falls outside the plausible range)
_DECIMAL = r"(\d{2,3}(?:\.\d{1,2})?)(?!\s*(?:/|" + _NOT_AFTER + "))"
# "80/60", "88-108/56-78" (a range: its lowest systolic)
_SYSTOLIC = r"(\d{2,3})(?:\s*[-–]\s*\d{2,3})?\s*/\s*\d{2,3}"


def _words(vital: Vital) -> str:
    lower = tuple(w for w in vital.words if not (len(w) == 1 and w.isupper()))
    # a one-letter capital ("P 78") only as written, never inside a word or after a slash
    upper = [re.escape(w) for w in vital.words if len(w) == 1 and w.isupper()]
    alts = [f"(?i:{_alts(lower)})"] if lower else []
    alts += upper
    return "(?:" + "|".join(alts) + ")"


@cache
def _pattern(vital: Vital) -> re.Pattern[str]:
    number = {"systolic": _SYSTOLIC, "decimal": _DECIMAL}.get(vital.pattern, _SINGLE)
    return re.compile(r"(?<![\w/])" + _words(vital) + r"(?!\w)" + _LINK + number)


# a list may stand between the measure and what is said of it ("heart rate and blood pressure
# were normal", "temperature, pulse and BP all normal"), then linking words
_LIST = r"(?i:\s*,\s*[a-z][a-z ]{0,20}?|\s+and\s+[a-z][a-z ]{0,20}?){0,3}"
_TOLD = r"\s*(?:[:=-]\s*)?(?:(?:was|were|is|are|all|both|remained|remains|stayed|looked|very)\s+)*"


def _alts(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@cache
def _told_absent(vital: Vital) -> re.Pattern[str] | None:
    """The measure said to be normal, or normal said of it ("BP fine", "a normal heart rate")."""
    parts = []
    if vital.told_absent:
        parts.append(_words(vital) + r"(?!\w)" + _LIST + _TOLD + f"(?i:{_alts(vital.told_absent)})")
    if vital.told_absent_before:
        parts.append(f"(?i:{_alts(vital.told_absent_before)})" + r"\s+" + _words(vital))
    if not parts:
        return None
    return re.compile(r"(?<![\w/])(?:" + "|".join(parts) + r")(?!\w)")


@lru_cache(maxsize=1)
def _normal() -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    cfg = amounts().vitals_normal
    if cfg is None:
        return None
    return re.compile(r"(?<!\w)(?:" + _alts(cfg.phrases) + r")(?!\w)", re.IGNORECASE), cfg.ids


def find_vitals(text: str, known_ids: frozenset[str] | None = None) -> list[EvidenceMention]:
    """Evidence from the readings and normal-observation phrases in *text*.

    Only ids in *known_ids* (the KB's) are returned when it is given.
    """
    out: list[EvidenceMention] = []
    for vital in amounts().vital:
        if known_ids is not None and vital.id not in known_ids:
            continue
        for m in _pattern(vital).finditer(text):
            state = vital.state(float(m.group(1)))
            if state is not None:
                out.append(
                    EvidenceMention(id=vital.id, state=state, span=m.span(), phrase=m.group(0))
                )
        told = _told_absent(vital)
        for m in told.finditer(text) if told is not None else ():
            out.append(
                EvidenceMention(id=vital.id, state="absent", span=m.span(), phrase=m.group(0))
            )
    normal = _normal()
    if normal is not None:
        pattern, ids = normal
        for m in pattern.finditer(text):
            out += [
                EvidenceMention(id=i, state="absent", span=m.span(), phrase=m.group(0))
                for i in ids
                if known_ids is None or i in known_ids
            ]
    return out
