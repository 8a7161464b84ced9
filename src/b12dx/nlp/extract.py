"""Numbers in free text: durations of medication use, lab values with units, age, sex, pregnancy.

Pure functions over strings and character offsets; the spaCy pipeline finds the mentions and
these read the numbers next to them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "age_bounds",
    "find_age",
    "find_duration_years",
    "find_lab_value",
    "find_next_lab_value",
    "find_pregnant",
    "find_proxy_relative",
    "find_sex",
    "to_number",
]

_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "several": 3,
    "a few": 3,
    "few": 3,
    "half a": 0.5,
}
_NUM = (
    r"(\d+(?:\.\d+)?|"
    + "|".join(sorted((re.escape(w) for w in _WORDS), key=len, reverse=True))
    + r")"
)
_UNIT_YEARS = {
    "year": 1.0,
    "yr": 1.0,
    "y": 1.0,
    "decade": 10.0,
    "month": 1 / 12,
    "mo": 1 / 12,
    "week": 1 / 52,
    "wk": 1 / 52,
}
_DUR_UNIT = r"(years?|yrs?|y|decades?|months?|mos?|weeks?|wks?)\b"
_FILL = (
    r"(?:the\s+)?(?:last\s+|past\s+|about\s+|around\s+|over\s+|nearly\s+|almost\s+|roughly\s+|"
    r"approximately\s+|approx\.?\s+|at\s+least\s+|more\s+than\s+|well\s+over\s+|~\s*)*"
)
_DURATION_AFTER = re.compile(
    r"^[^.;!?\n]{0,40}?(?:\b(?:for|x|since)\s+|\(\s*)" + _FILL + _NUM + r"\s*[- ]?\s*" + _DUR_UNIT,
    re.IGNORECASE,
)
_DURATION_AGO = re.compile(
    r"^[^.;!?\n]{0,25}?\b" + _FILL + _NUM + r"\s*[- ]?\s*" + _DUR_UNIT + r"\s+ago\b", re.IGNORECASE
)
_DURATION_PAREN = re.compile(
    r"^\s*[(,]\s*" + _FILL + _NUM + r"\s*[- ]?\s*" + _DUR_UNIT, re.IGNORECASE
)
_DURATION_ONE = re.compile(
    r"^[^.;!?\n]{0,40}?\bfor\s+(?:the\s+(?:past|last)\s+|a\s+|an\s+|one\s+)(year|month|decade)\b",
    re.IGNORECASE,
)
_DURATION_BEFORE = re.compile(
    _NUM + r"\s*[- ]?\s*" + _DUR_UNIT + r"\s+(?:of|on)\s+(?:\w+\s+){0,2}$", re.IGNORECASE
)


def to_number(word: str) -> float | None:
    w = re.sub(r"\s+", " ", word.strip().lower())
    if w in _WORDS:
        return float(_WORDS[w])
    try:
        return float(w)
    except ValueError:
        return None


def _years(num: str, unit: str) -> float | None:
    n = to_number(num)
    if n is None:
        return None
    u = unit.lower().rstrip("s")
    factor = _UNIT_YEARS.get(u, _UNIT_YEARS.get(u[:2], 1.0))
    return round(n * factor, 2)


_AND_A_HALF = re.compile(r"\b(\d+|[a-z]+)\s+and\s+a\s+half\b", re.IGNORECASE)


def _halves(text: str) -> str:
    """ "two and a half years" -> "2.5 years" (offsets are not needed for durations)."""

    def one(m: re.Match[str]) -> str:
        n = to_number(m.group(1))
        return m.group(0) if n is None else f"{n + 0.5:g}"

    return _AND_A_HALF.sub(one, text)


def find_duration_years(after: str, before: str = "") -> float | None:
    """Years of use stated next to a medication mention ("for five years", "10 years on ...")."""
    after, before = _halves(after), _halves(before)
    m = _DURATION_AFTER.search(after) or _DURATION_PAREN.search(after)
    if m is None and re.search(
        r"\b(?:started|began|start|put\s+(?:me\s+|him\s+|her\s+)?on|prescribed|"
        r"(?:changed|switched|swapped|moved)\s+(?:me\s+|him\s+|her\s+|it\s+)?to)\b",
        before[-40:],
        re.IGNORECASE,
    ):
        m = _DURATION_AGO.search(after)  # "started atorvastatin six months ago"
    if m:
        return _years(m.group(1), m.group(2))
    m = _DURATION_BEFORE.search(before)
    if m:
        return _years(m.group(1), m.group(2))
    m = _DURATION_ONE.search(after)  # "for the past year", "for a month"
    if m:
        return _years("1", m.group(1))
    return None


def find_lab_value(after: str, units: Sequence[str]) -> tuple[float, str | None, int] | None:
    """The value (and unit) that follows a lab mention, with the end offset within *after*."""
    unit_re = "|".join(re.escape(u) for u in units)
    pattern = re.compile(
        r"^(?:\s*(?:(?:levels?|results?|value|count|tests?|was|is|were|came\s+back|back|at|of|"
        r"only|just|a|around|about|low|high|very|still|now|measured|reading|serum|plasma|"
        r"normal|abnormal|borderline|raised|elevated|reduced|down|up|peaked|peak|rose|reached|"
        r"the|lowest|highest|nadir|fell|dropped|climbed|came|went|got|returned|improved|increased|"
        r"decreased|"
        r"to|under|over|below|above|less\s+than|more\s+than|greater\s+than|turned\s+out\s+to\s+be)\b"
        r"|[=:~,-]))*"
        r"\s*(?:<|>|≤|≥)?\s*(\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:[.,]\d+)?)"
        r"(?!\s*(?:years?|yrs?|weeks?|months?|days?|x)\b)"
        # a dose is not a result ("IM B12 500 mcg/day", "vitamin D 1000 IU daily")
        r"(?!\d)(?!\s*(?:mcg|micrograms?|mg|milligrams?|iu|units?)"
        r"(?:\s*/\s*(?:day|d|dose|wk|week|month|kg)\b|\s+(?:a|per|every|daily|od|bd|weekly)\b|(?![\w/])))"
        r"(?:\s*(" + unit_re + r")(?![\w/]))?",
        re.IGNORECASE,
    )
    m = pattern.search(after)
    if not m:
        return None
    value = _number(m.group(1))
    unit = m.group(2)
    if unit is not None:
        canon = {u.lower(): u for u in reversed(units)}
        unit = canon.get(unit.lower(), unit)
        unit = unit.replace("μ", "µ")
    return value, unit, m.end()


# Words that may stand between a lab value and a later value of the same test ("sodium 121 mEq/L,
# eleven days later it was 130 mmol/L", "B12 413 pg/mL in 1992, 256 pg/mL in 1994", "fell to 125
# mEq/L"). Any other word (another test's name: "chloride 90 mmol/L") ends the search.
_LATER_WORDS = frozenset(
    [
        "it",
        "its",
        "was",
        "is",
        "had",
        "has",
        "then",
        "later",
        "and",
        "after",
        "afterwards",
        "subsequently",
        "by",
        "next",
        "following",
        "the",
        "a",
        "of",
        "in",
        "on",
        "at",
        "to",
        "from",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "hour",
        "hours",
        "fell",
        "dropped",
        "rose",
        "risen",
        "fallen",
        "climbed",
        "went",
        "came",
        "back",
        "down",
        "up",
        "increased",
        "decreased",
        "lowest",
        "highest",
        "nadir",
        "peak",
        "peaked",
        "repeat",
        "repeated",
        "rechecked",
        "recheck",
        "level",
        "levels",
        "value",
        "now",
        "when",
        "discharge",
        "discharged",
        "admission",
        "admitted",
        "home",
        "follow-up",
        "followup",
        "ago",
        "before",
        "previously",
        "earlier",
        "initially",
        "first",
        "again",
        "since",
        "back",
        "improved",
        "rising",
        "falling",
    ]
)
_GAP_TOKEN = re.compile(
    r"[a-z]+(?:-[a-z]+)?|\d{4}|\d+(?=\s+(?:days?|weeks?|months?|years?|hours?))|[,;]"
)


def find_next_lab_value(
    after: str, units: Sequence[str], first_unit: str | None
) -> tuple[float, str, int, int] | None:
    """A later value of the same test after the one just read (*after* starts where that value
    ended): a value with a unit reached across only time and change words, or, with the same unit
    as the first, across a comma. Returns (value, unit, start, end) within *after*."""
    if first_unit is None:
        return None
    unit_re = "|".join(re.escape(u) for u in units)
    m = re.compile(
        r"(\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:[.,]\d+)?)\s*(" + unit_re + r")(?![\w/])",
        re.IGNORECASE,
    ).search(after)
    if m is None:
        return None
    gap = after[: m.start()].lower()
    words = _GAP_TOKEN.findall(gap)
    if re.sub(r"[\s\w,;-]", "", gap.replace("'", "")) or len(words) > 12:
        return None  # a full stop, a bracket or a long stretch: not the same statement
    if sum(len(w) for w in words) != len(re.sub(r"[\s]", "", gap)):
        return None  # something the token pattern did not take (a stray number)
    names = [w for w in words if w not in (",", ";") and not w.isdigit()]
    if any(w not in _LATER_WORDS and not to_number(w) for w in names):
        return None
    unit = m.group(2)
    canon = {u.lower(): u for u in reversed(units)}
    unit = canon.get(unit.lower(), unit).replace("μ", "µ")
    if not names and unit.lower() != first_unit.lower():
        return None  # "B12 413 pg/mL in 1992, 256 pg/mL": a bare comma only with the same unit
    return _number(m.group(1)), unit, m.start(), m.end()


_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")


def _number(text: str) -> float:
    """ "132,540" is a thousands separator; "1,6" a decimal comma."""
    if _THOUSANDS.match(text):
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


_AGE_PATTERNS = [
    re.compile(r"\b(\d{1,3})\s*[- ]?\s*(?:years?|yrs?|yo|y)\s*[- ]?\s*old\b", re.IGNORECASE),
    re.compile(
        r"\b(\d{2,3})\s*(?:yo|y/o|y\.o\.?|yrs?|years?)\b"
        r"(?!\s*(?:ago|of|on|since|at|smok|pack|x\b|later|before|after))",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:aged?|age:?)\s*(\d{2,3})\b", re.IGNORECASE),
    re.compile(
        r"\b(?:i'?m|i\s+am|im)\s+(\d{2,3})\b(?!\s*(?:weeks?|months?|days?|kg|lbs?|%|cm))",
        re.IGNORECASE,
    ),
    re.compile(r"\b(\d{2,3})\s*(?:M|F)\b"),
    re.compile(
        r"\b(?:woman|man|female|male|lady|gentleman|gent|guy|bloke),?\s+(\d{2,3})\b", re.IGNORECASE
    ),
    re.compile(r"\b(?:[Mm]rs|[Mm]r|[Mm]s|[Mm]iss)\.?\s+[A-Z][\w'-]*,\s+(\d{2,3})\b"),
    re.compile(
        r"\b(?:i'?m|i\s+am)\s+(?:male|female|an?\s+(?:man|woman|guy|lady))\s+and\s+(\d{2,3})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bturned\s+(\d{2,3})\b", re.IGNORECASE),
    re.compile(r"(?:^|[\s(])(?:F|M),?\s+(\d{2,3})\b"),
    re.compile(
        r"\b(?:woman|man|lady|gentleman|male|female)\s+(?:of|aged)\s+(\d{2,3})\b", re.IGNORECASE
    ),
    re.compile(
        r"^\W*(?:my\s+|our\s+)?(?:dad|father|mum|mom|mother|husband|wife|son|daughter|brother|"
        r"sister|grandad|grandfather|grandmother|nan|partner|he|she|(?:best\s+)?friend|neighbou?r|"
        r"colleague|aunt|auntie|uncle|grandma|grandpa|granny|gran|grandson|granddaughter|niece|"
        r"nephew|boy|girl|baby|child)(?:\s+(?-i:[A-Z][a-z]+))?\s+(?:is|'s)\s+"
        r"(\d{1,3})\b(?!\s*(?:weeks?|months?|days?|kg|lbs?|%|cm))",
        re.IGNORECASE,
    ),
]
# ages under 10 are read only where the words say it is an age ("a 9-year-old", "my son is 9")
_CHILD_AGE_PATTERNS = (0, len(_AGE_PATTERNS) - 1)


_DURATION_BEFORE_AGE = re.compile(
    r"(?:\bfor|\bover|\bpast|\blast|\bsince|\bx|\bapprox\.?|\babout|\baround|\bnearly|"
    r"\balmost|~)\s*$",
    re.IGNORECASE,
)


def age_bounds() -> tuple[float, float]:
    """(smallest unmarked age, largest age) read from text: ``[age]`` in the NLP lexicon."""
    from .lexicon import _raw

    section = _raw()["age"]
    return float(section["unmarked_min"]), float(section["max"])


def find_age(text: str) -> float | None:
    """The person's age when stated; "for 12 yrs" is a duration, not an age. A note that opens
    with the age ("23F ...") is not overruled by a relative's age later ("mother died aged 30")."""
    unmarked_min, top = age_bounds()
    found: list[tuple[int, float]] = []
    for n, pat in enumerate(_AGE_PATTERNS):
        for m in pat.finditer(text):
            if _DURATION_BEFORE_AGE.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            age = float(m.group(1))
            if (1 if n in _CHILD_AGE_PATTERNS else unmarked_min) <= age <= top:
                found.append((m.start(), age))
                break
        if found and n == 0:
            break  # "N years old" is the clearest statement of an age
    if not found:
        return None
    opening = [a for pos, a in found if _OPENING.match(text[:pos])]
    return opening[0] if opening else found[0][1]


# only punctuation or a short lead-in ("Patient:", "Pt is a") before the age
_OPENING = re.compile(r"^\W*(?:(?:pt|patient|case|history)\W*)?$", re.IGNORECASE)


_FEMALE = (
    r"woman|female|lady|girl|mother of|mum of|mom of|wife|grandmother|housewife|"
    r"postmenopausal|menopausal|post-menopausal"
)
_MALE = r"man|male|gentleman|gent|guy|bloke|husband|father of|dad of|grandfather|boy|lad"
_SELF = (
    r"(?:i'?m|i\s+am|im|as)\s+an?\s+(?:\d{2,3}\s*[- ]?(?:years?|yrs?|yo|y)?\s*[- ]?(?:old)?\s*)?"
    r"(?:\w+\s+)?"
)
_NOTE = r"\b\d{2,3}\s*[- ]?(?:years?|yrs?|yo|y/o|y\.o\.|y)?\s*[- ]?(?:old)?\s*[- ]?(?:\w+\s+)?"


def find_sex(text: str) -> str | None:
    low = text.lower()
    for sex, words in (("female", _FEMALE), ("male", _MALE)):
        if re.search(_SELF + r"(?:" + words + r")\b", low) or re.search(
            _NOTE + r"(?:" + words + r")\b", low
        ):
            return sex
    m = re.search(r"\b\d{2,3}\s*(?:(?:yo|y/o|y\.o\.?|yrs?|years?)(?:\s*old)?\s*)?(M|F)\b", text)
    if m:
        return "male" if m.group(1) == "M" else "female"
    m = re.search(
        r"\b(?:i'?m|i\s+am)\b[^.]{0,40}?\band\s+(?:a\s+)?(woman|man|female|male|mum|mother|dad|father)\b",
        low,
    ) or re.search(r"\b(?:i'?m|i\s+am)\s+\d{2,3},\s+an?\s+(woman|man|female|male)\b", low)
    if m is None:
        m = re.search(r"\b\d{2,3},?\s+(female|male)\b", low)
    if m:
        return "female" if m.group(1) in ("woman", "female", "mum", "mother") else "male"
    m = re.match(r"\W*(F|M),?\s*\d{2,3}\b", text) or re.search(
        r"\bsex:?\s*(F|M|female|male)\b", text, re.IGNORECASE
    )
    if m:
        return "female" if m.group(1).lower() in ("f", "female") else "male"
    m = re.search(r"\((female|male|f|m)\)", low)
    if m:
        return "male" if m.group(1) in ("male", "m") else "female"
    m = re.match(r"\W*(?:an?\s+)?(?:[a-z-]+\s+){0,2}?(woman|lady|female|man|gentleman|male)\b", low)
    if m:
        return "female" if m.group(1) in ("woman", "lady", "female") else "male"
    m = re.match(
        r"\W*my\s+(dad|father|husband|son|brother|grandad|grandfather|uncle|grandpa|nephew|"
        r"grandson|mum|mom|mother|wife|daughter|sister|nan|grandmother|aunt|auntie|grandma|"
        r"granny|niece|granddaughter)(?:\s+[a-z]+)?\s+(?:is|'s)\s+\d",
        low,
    )
    if m:
        return (
            "male"
            if m.group(1)
            in (
                "dad",
                "father",
                "husband",
                "son",
                "brother",
                "grandad",
                "grandfather",
                "uncle",
                "grandpa",
                "nephew",
                "grandson",
            )
            else "female"
        )
    if re.search(r"\b(?:[Mm]rs|[Mm]s|[Mm]iss)\.?\s+[A-Z]", text):
        return "female"
    if re.search(r"\b[Mm]r\.?\s+[A-Z]", text):
        return "male"
    if re.search(r"\bi\s+am\s+(?:female|a\s+woman)\b|\bi'?m\s+female\b", low):
        return "female"
    if re.search(r"\bi\s+am\s+male\b|\bi'?m\s+male\b", low):
        return "male"
    # third-person notes (or "my partner is ..."): the pronoun of the subject
    about_other = re.match(
        r"\W*my\s+(?:partner|husband|wife|son|daughter|dad|father|mum|mom|"
        r"mother|brother|sister|friend|grandfather|grandmother)\b",
        low,
    )
    if about_other or not re.search(r"\b(?:i|i'm|i've|my|me)\b", low):
        she = len(re.findall(r"\b(?:she|her)\b", low))
        he = len(re.findall(r"\b(?:he|his|him)\b", low))
        if she > he:
            return "female"
        if he > she:
            return "male"
    return None


_PREGNANT = re.compile(
    r"\b(?:i'?m|i\s+am|im|currently|she\s+is|she's|patient\s+is|now)\s+(?:\d+\s+(?:weeks?|months?)\s+)?"
    r"pregnant\b|\b\d+\s+weeks?\s+pregnant\b|\bpregnant\s+with\b|\b(?:first|second|third)\s+trimester\b",
    re.IGNORECASE,
)
_NOT_PREGNANT = re.compile(r"\b(?:not|n't)\s+pregnant\b|\bpostpartum\b", re.IGNORECASE)


def find_pregnant(text: str) -> bool | None:
    if _NOT_PREGNANT.search(text):
        return False
    if _PREGNANT.search(text):
        return True
    return None


_RELATIVES = (
    r"(mother|mum|mom|mam|father|dad|husband|wife|partner|son|daughter|brother|"
    r"sister|grandmother|grandfather|gran|granny|grandad|grandpa|grandma|nan|uncle|aunt|auntie)"
)
_PROXY = re.compile(
    r"^\W*(?:my|our)\s+(?:elderly\s+|older\s+|younger\s+|old\s+)?"
    + _RELATIVES
    + r"(?:\s+(?-i:[A-Z][a-z]+))?\s*(?:,\s*|\(\s*)?(?:is\s+|was\s+|aged\s+|who\s+is\s+)?\d{1,3}\b",
    re.IGNORECASE,
)
# "My elderly mother has ..." names the person the text is about without giving an age
_PROXY_ELDERLY = re.compile(
    r"^\W*(?:my|our)\s+(?:elderly|frail)\s+" + _RELATIVES + r"\b", re.IGNORECASE
)


def find_proxy_relative(text: str) -> str | None:
    """The relative a text is about when it opens like "My father is 66 ..." (a relative telling
    someone else's story), lower-cased; ``None`` for a first-person text."""
    m = _PROXY.search(text) or _PROXY_ELDERLY.search(text)
    return m.group(1).lower() if m else None
