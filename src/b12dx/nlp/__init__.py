"""Free text -> b12dx evidence, with negation, history, family, hypothetical and uncertainty.

    >>> from b12dx.nlp import parse_text                      # doctest: +SKIP
    >>> r = parse_text("My calves lock up at night, no swelling, I'm vegan.")
    >>> sorted(r.final_evidence().items())
    [('muscle_cramps', 'present'), ('nocturnal_leg_cramps', 'present'),
     ('unilateral_calf_swelling', 'absent'), ('vegan_diet', 'present')]

Built on medspaCy (a blank English spaCy pipeline plus rules; nothing is downloaded). spaCy is
imported on the first parse, never by ``import b12dx`` or ``import b12dx.nlp``; without the
``nlp`` extra a :class:`~b12dx.errors.MissingExtraError` names it.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..kb import KnowledgeBase
from .lexicon import Lexicon, build_lexicon
from .models import Context, EvidenceMention, LabMention, MedicationMention, Modifier, ParseResult

__all__ = [
    "MAX_TEXT_CHARS",
    "Context",
    "EvidenceMention",
    "LabMention",
    "Lexicon",
    "MedicationMention",
    "Modifier",
    "ParseResult",
    "build_lexicon",
    "case_from_text",
    "parse_text",
]

# A long clinic letter is a few thousand characters; parsing stays under a second or two up to
# this length even for adversarial input (see tests/test_nlp_schemathesis.py).
MAX_TEXT_CHARS = 10_000

_lexicons: dict[str, Lexicon] = {}


def _lexicon_for(kb: KnowledgeBase | None) -> Lexicon:
    if kb is None:
        from ..kb import load_kb

        kb = load_kb()
    lex = _lexicons.get(kb.sha256)
    if lex is None:
        lex = _lexicons[kb.sha256] = build_lexicon(kb)
    return lex


def parse_text(
    text: str, *, kb: KnowledgeBase | None = None, lexicon: Lexicon | None = None
) -> ParseResult:
    """Read *text* (a person's own words or a clinical note) into evidence, medications, labs,
    age and sex. ``kb`` defaults to the packaged knowledge base; ``lexicon`` overrides both."""
    if not isinstance(text, str):
        raise InputError(f"text must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(
            f"text is {len(text)} characters long; at most {MAX_TEXT_CHARS} are accepted",
            where="text",
        )
    from .pipeline import parse_with

    lex = lexicon if lexicon is not None else _lexicon_for(kb)
    if not text.strip():
        return ParseResult()
    return parse_with(text, lex)


def case_from_text(
    text: str, *, base: dict[str, Any] | None = None, kb: KnowledgeBase | None = None
) -> dict[str, Any]:
    """Plain Case data for *text*, merged into *base* (which wins where both say something).

    Evidence, medications and labs from the text are added after the base's own; an id, drug
    or test the base already states is not repeated. Age, sex and pregnancy come from the base
    when it has them, else from the text when stated.
    """
    parsed = parse_text(text, kb=kb).case_data()
    out: dict[str, Any] = dict(base or {})
    for field in ("age", "sex", "pregnant"):
        if field in parsed and out.get(field) is None:
            out[field] = parsed[field]
    ev = list(out.get("evidence") or [])
    have = {str(e.get("id")) for e in ev if isinstance(e, dict)}
    ev += [e for e in parsed["evidence"] if e["id"] not in have]
    out["evidence"] = ev
    meds = list(out.get("medications") or [])

    def med_key(m: dict[str, Any]) -> str:
        return str(m.get("name") or m.get("drug_class") or m.get("rxnorm") or "").lower()

    have_m = {med_key(m) for m in meds if isinstance(m, dict)}
    # a drug the base names again is left to the base; two drugs of one class are merged by
    # Case normalisation (the longer exposure is kept)
    meds += [m for m in parsed["medications"] if med_key(m) not in have_m]
    out["medications"] = meds
    labs = list(out.get("labs") or [])
    have_l = {str(lab.get("test")) for lab in labs if isinstance(lab, dict)}
    labs += [lab for lab in parsed["labs"] if lab["test"] not in have_l]
    out["labs"] = labs
    return out
