"""The parser's vocabulary: the KB's synonyms plus the NLP-only phrases in ``nlp_lexicon.toml``.

Pure Python (no spaCy), so it can be built, inspected and tested cheaply. ``build_lexicon(kb)``
merges the packaged language file with a knowledge base; phrases from the language file win
where both name the same phrase, because they were chosen for free text.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from ..errors import KnowledgeBaseError
from ..kb import KnowledgeBase
from .inflect import InflectionTable

__all__ = [
    "CONTEXT_CATEGORIES",
    "Block",
    "Combination",
    "ContextPhrase",
    "Lexicon",
    "build_lexicon",
]

LEXICON_FILE = "nlp_lexicon.toml"
CONTEXT_CATEGORIES = (
    "NEGATED_EXISTENCE",
    "HISTORICAL",
    "FAMILY",
    "HYPOTHETICAL",
    "POSSIBLE_EXISTENCE",
    "TERMINATE",
    "CLAUSE",
    "COMMA",  # a comma, which ends only the rules that name it in terminated_by
    "HEDGE_END",  # "before", "identified as": ends only a hedge ("possible X before Y ...")
    "PSEUDO",
)
_DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")
# Single words too ambiguous in free text to accept from KB synonyms (the language file may
# still use them deliberately).
_MIN_KB_PHRASE = 3
# KB phrases that start like a negation trigger ("no problems with ..."): their "no" form is
# added as a negated phrase
_NEGATABLE_HEADS = ("problems with", "trouble with", "difficulty with", "issues with")


@dataclass(frozen=True)
class ContextPhrase:
    phrase: str
    category: str
    direction: str
    terminated_by: tuple[str, ...] = ()
    max_scope: int | None = None  # tokens; None: to the end of the sentence
    # the phrase counts only where a clause ends after it ("Swelling: no." but not the
    # "no" of "Examination: no calf tenderness", which negates forwards)
    at_end: bool = False


@dataclass(frozen=True)
class Combination:
    """``base`` mentioned in a sentence containing one of ``with_any`` also yields ``id``."""

    id: str
    base: str
    with_any: tuple[str, ...]
    reach: int = 0  # 1: the sentence before counts too ("Hiked all day in the heat. Now I cramp.")
    unless: tuple[str, ...] = ()  # words in the sentence that block it ("settled within days")
    # only a present base yields it: "no weakness in both legs" says nothing about laterality
    present_only: bool = False
    # a second set the sentence must also hold ("sudden" and "left leg")
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """A mention of ``id`` is not read where its sentence holds a word of ``when`` and none of
    ``unless`` (rest relieving chest pain is not claudication)."""

    id: str
    when: tuple[str, ...]
    unless: tuple[str, ...] = ()
    # read as this finding instead, with the same state ("confused for months" is a memory
    # problem, not the sudden confusion the speech red flag asks about)
    instead: str | None = None


@dataclass(frozen=True)
class Locator:
    """A mention without a body site ("tingling") placed by site words near it."""

    id: str  # the generic pseudo-id used in ``concepts``
    window: int  # tokens either side, within the sentence
    sites: dict[str, tuple[str, ...]]  # evidence id -> site words
    # ids a denial with no site word denies ("no tingling" is neither feet nor hands)
    unsited_denial: tuple[str, ...] = ()


@dataclass(frozen=True)
class NearRule:
    """A word of ``first`` followed, within ``gap`` words of ``between``, by a word of ``then``
    ("my calves will often seize", "her memory and concentration are poor")."""

    id: str
    first: tuple[str, ...]
    then: tuple[str, ...]
    gap: int
    between: tuple[str, ...]
    ignore: bool = False  # matched so that its words are not read as something else


@dataclass(frozen=True)
class Lexicon:
    """Everything the text parser matches, keyed by lower-cased phrase."""

    concepts: dict[str, str]  # phrase -> id; "a+b" names several ids
    negated_concepts: dict[str, str]
    absent_only: dict[str, str]  # phrases that count only when negated ("normal strength")
    ignore: frozenset[str]  # phrases that look like a concept but are not ("red meat")
    locators: tuple[Locator, ...]
    medications: dict[str, str]  # phrase -> canonical (generic) name
    medication_classes: dict[str, str]  # phrase -> KB drug class id
    labs: dict[str, str]  # phrase -> lab test id
    units: tuple[str, ...]  # longest first
    context: tuple[ContextPhrase, ...]
    combinations: tuple[Combination, ...]
    implies: dict[str, tuple[str, ...]]
    family_history_id: str
    family_ids: frozenset[str]
    family_phrases: tuple[str, ...]
    evidence_ids: frozenset[str] = field(default_factory=frozenset)
    version: str = ""
    # element symbols read only with a value and unit ("K 3.1 mmol/L"): symbol -> lab test id
    lab_symbols: dict[str, str] = field(default_factory=dict)
    # ids whose historical mentions are not current ("cancer twenty years ago")
    current_only: frozenset[str] = field(default_factory=frozenset)
    # ids that only a recent event sets, and the HISTORICAL phrases that date a mention long ago
    recent_only: frozenset[str] = field(default_factory=frozenset)
    long_ago: frozenset[str] = field(default_factory=frozenset)
    # words that carry a long-ago event on to now ("a bypass five years ago, and lost 30 kg since")
    ongoing: tuple[str, ...] = ()
    ongoing_ids: frozenset[str] = field(default_factory=frozenset)
    # bare names of an event that are the current problem unless dated or said to be past
    # ("CT: DVT of the left leg" is today's diagnosis, "a DVT in 2015" is a previous one)
    past_only: frozenset[str] = field(default_factory=frozenset)
    # triggers that negate what a person takes ("not on", "not taking"): they negate medicines and
    # the ids in taken_ids, never a condition further on ("not on insulin, and high blood pressure")
    treatment_negations: frozenset[str] = field(default_factory=frozenset)
    taken_ids: frozenset[str] = field(default_factory=frozenset)
    # optional words after a linking verb inside a phrase ("is really sore")
    filler_after: frozenset[str] = field(default_factory=frozenset)
    filler_words: tuple[str, ...] = ()
    # other forms of the words of multi-word phrases ("calves seize up" ~ "my calf seized up")
    inflections: InflectionTable | None = None
    # body part x verb rules and the like, matched as token patterns
    near: tuple[NearRule, ...] = ()
    # absent_only ids for which "absent" means the finding ("reflexes absent": reduced reflexes),
    # and the negation phrases that say so
    absent_means_present: frozenset[str] = field(default_factory=frozenset)
    absence_words: frozenset[str] = field(default_factory=frozenset)
    # ... the phrases of other kinds that name the function itself ("vibration and position
    # sense ... absent"), the negations that say so only when they stand right before it ("no
    # coordination"), and the phrases for which absence is not the finding ("Romberg's test")
    function_phrases: frozenset[str] = field(default_factory=frozenset)
    adjacent_absence_words: frozenset[str] = field(default_factory=frozenset)
    not_functions: frozenset[str] = field(default_factory=frozenset)
    # words by which a phrase states its own absence or loss ("reflexes absent", "unable to walk"):
    # such a phrase after a comma is not reached by a negation before it
    self_state_words: frozenset[str] = field(default_factory=frozenset)
    # habits that a later stop ends ("smoked for thirty years ... stopped smoking the next day"),
    # and the words of the negations that tell a stop
    stop_ids: frozenset[str] = field(default_factory=frozenset)
    stop_words: tuple[str, ...] = ()
    past_words: tuple[str, ...] = ()
    # time phrases that put a habit only in the past, undated ("drank heavily in the past", "the
    # smoking I did when I was younger"): the habit is not current, so it is read as absent
    long_past: frozenset[str] = field(default_factory=frozenset)
    # sentence words that stop a reading ("chest pain ... settled with rest" is not claudication)
    blocks: tuple[Block, ...] = ()
    # per KB test, the units it accepts (lower case): "HbA1c 5.9%" is read, but a Case cannot
    # take a unit the KB does not convert, so such a value keeps no unit
    lab_units: dict[str, frozenset[str]] = field(default_factory=dict)
    # ignored phrases that combinations do not see either ("I play football professionally" is
    # not a match before the cramp)
    masked: frozenset[str] = field(default_factory=frozenset)
    # phrases whose negation says nothing ("no falls" does not mean good balance)
    negation_uninformative: frozenset[str] = field(default_factory=frozenset)
    # generic name -> KB drug class id, so that stopping "the statin" stops the atorvastatin
    class_of: dict[str, str] = field(default_factory=dict)
    # pseudo-ids matched only so that combinations can see them ("pain in both legs": a limb
    # symptom no finding names), never reported
    carriers: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def key(self) -> str:
        """A short identity used to cache compiled pipelines (computed once: hashing the concept
        table took about 2 ms, on every parse)."""
        inflected = "i" if self.inflections is not None else "-"
        concepts = hash(tuple(sorted(self.concepts.items())))
        return f"{self.version}:{inflected}:{hash(self.near)}:{concepts}"

    @cached_property
    def combination_bases(self) -> frozenset[str]:
        """The ids some combination rule starts from."""
        return frozenset(c.base for c in self.combinations)


def _norm(phrase: str) -> str:
    return re.sub(r"\s+", " ", phrase.strip().lower())


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    entry = resources.files("b12dx.knowledge") / LEXICON_FILE
    try:
        return tomllib.loads(entry.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        from ..errors import Issue

        raise KnowledgeBaseError(
            [Issue(LEXICON_FILE, f"cannot read the NLP lexicon: {exc}")]
        ) from None


def _kb_terms(
    kb: KnowledgeBase,
) -> tuple[dict[str, str], dict[str, str], dict[str, str], list[str]]:
    concepts: dict[str, str] = {}
    for f in kb.findings:
        if f.kind == "lab":
            continue
        for s in (f.name, f.lay_name, f.id.replace("_", " "), *f.synonyms):
            concepts.setdefault(_norm(s), f.id)
    for r in kb.risk_factors:
        for s in (r.name, r.lay_name, r.id.replace("_", " "), *r.synonyms):
            concepts.setdefault(_norm(s), r.id)
    meds: dict[str, str] = {}
    for cls in kb.drug_classes:
        for drug in cls.drugs:
            generic = _norm(drug.name)
            meds.setdefault(generic, generic)
            for brand in drug.brands:
                meds.setdefault(_norm(brand), generic)
    labs: dict[str, str] = {}
    units: list[str] = []
    for t in kb.labs:
        for s in (t.id.replace("_", " "), t.name, t.lay_name, *t.synonyms):
            labs.setdefault(_norm(s), t.id)
        units.extend(u.unit for u in t.units)
    # very short KB synonyms ("fit", "ms") are too ambiguous in running text
    concepts = {p: i for p, i in concepts.items() if len(p) >= _MIN_KB_PHRASE}
    return concepts, meds, labs, units


def build_lexicon(kb: KnowledgeBase | None = None) -> Lexicon:
    """The vocabulary for *kb* (``None``: the language file alone, for tools and tests)."""
    raw = _raw()
    concepts: dict[str, str] = {}
    for ident, phrases in raw.get("concepts", {}).items():
        for p in phrases:
            concepts[_norm(p)] = ident
    for ident, phrases in raw.get("lay", {}).items():
        for p in phrases:
            concepts.setdefault(_norm(p), ident)
    for ident, phrases in raw.get("multi", {}).items():
        for p in phrases:
            concepts[_norm(p)] = ident
    negated = {_norm(p): ident for ident, ps in raw.get("negated_concepts", {}).items() for p in ps}
    absent_only = {_norm(p): ident for ident, ps in raw.get("absent_only", {}).items() for p in ps}
    masked = frozenset(_norm(p) for p in raw.get("ignore", {}).get("masked", []))
    ignore = frozenset(_norm(p) for p in raw.get("ignore", {}).get("phrases", [])) | masked
    locators = tuple(
        Locator(
            id=str(loc["id"]),
            window=int(loc.get("window", 8)),
            sites={k: tuple(_norm(w) for w in v) for k, v in loc["sites"].items()},
            unsited_denial=tuple(str(i) for i in loc.get("unsited_denial", ())),
        )
        for loc in raw.get("locate", [])
    )
    for loc in locators:
        for p in raw.get("locate_phrases", {}).get(loc.id, []):
            concepts[_norm(p)] = loc.id
    meds: dict[str, str] = {}
    for generic, brands in raw.get("medications", {}).items():
        g = _norm(generic)
        meds[g] = g
        for b in brands:
            meds[_norm(b)] = g
    med_classes = {
        _norm(p): ident for ident, ps in raw.get("medication_classes", {}).items() for p in ps
    }
    labs = {_norm(p): ident for ident, ps in raw.get("labs", {}).items() for p in ps}
    units = list(raw.get("units", {}).get("spellings", []))
    lab_symbols = {str(k): str(v) for k, v in raw.get("lab_symbols", {}).items()}
    current_only = frozenset(str(i) for i in raw.get("current_only", {}).get("ids", []))
    gap_sets = {str(k): tuple(_norm(w) for w in v) for k, v in raw.get("near_gaps", {}).items()}
    near = tuple(
        NearRule(
            id=str(r["id"]),
            first=tuple(_norm(w) for w in r["first"]),
            then=tuple(_norm(w) for w in r["then"]),
            gap=int(r.get("gap", 3)),
            between=gap_sets.get(str(r.get("between", "")), ()),
            ignore=bool(r.get("ignore", False)),
        )
        for r in raw.get("near", [])
    )
    evidence_ids: frozenset[str] = frozenset()
    class_of: dict[str, str] = {}
    lab_units: dict[str, frozenset[str]] = {}
    carriers: dict[str, list[str]] = raw.get("carriers", {})

    if kb is not None:
        class_of = {_norm(d.name): cls.id for cls in kb.drug_classes for d in cls.drugs}
        kb_concepts, kb_meds, kb_labs, kb_units = _kb_terms(kb)
        excluded = {_norm(p) for p in raw.get("kb_exclude", {}).get("phrases", [])}
        kb_concepts = {p: i for p, i in kb_concepts.items() if p not in excluded}
        kb_labs = {
            p: t for p, t in kb_labs.items() if p not in excluded and len(p) >= _MIN_KB_PHRASE
        }
        for p, i in kb_concepts.items():
            if p not in labs and p not in meds:
                concepts.setdefault(p, i)
            # "no problems with my eyesight": the phrase would otherwise swallow the trigger
            if p.startswith(_NEGATABLE_HEADS) and "+" not in i:
                negated.setdefault(f"no {p}", i)
        for p, g in kb_meds.items():
            meds.setdefault(p, g)
        # only medicines the KB can resolve to a drug class: a Case must normalise
        known_generics = set(kb_meds.values())
        meds = {p: g for p, g in meds.items() if g in known_generics}
        for p, t in kb_labs.items():
            labs.setdefault(p, t)
        units.extend(kb_units)
        lab_units = {t.id: frozenset(u.unit.lower() for u in t.units) for t in kb.labs}
        evidence_ids = frozenset(kb.evidence_ids)
        # keep only ids this KB defines, so a Case built from text always normalises
        generic = {loc.id for loc in locators}

        def known(ident: str) -> bool:
            return (
                ident in generic
                or ident in carriers
                or all(part in evidence_ids for part in ident.split("+"))
            )

        concepts = {p: i for p, i in concepts.items() if known(i)}
        negated = {p: i for p, i in negated.items() if known(i)}
        absent_only = {p: i for p, i in absent_only.items() if known(i)}
        near = tuple(r for r in near if r.ignore or known(r.id))
        labs = {p: t for p, t in labs.items() if t in kb.lab_by_id}
        lab_symbols = {p: t for p, t in lab_symbols.items() if t in kb.lab_by_id}
        med_classes = {p: c for p, c in med_classes.items() if c in kb.drug_class_by_id}
        for cls in kb.drug_classes:
            for s in (cls.name, cls.lay_name):
                if len(s) >= _MIN_KB_PHRASE:
                    med_classes.setdefault(_norm(s), cls.id)

    # carriers last: any finding's own phrase wins ("calf pain" is not a bare limb symptom)
    for ident, phrases in carriers.items():
        for p in phrases:
            concepts.setdefault(_norm(p), ident)

    context = tuple(
        dict.fromkeys(
            ContextPhrase(
                _norm(p) if p.strip() else p,
                str(r["category"]).upper(),
                str(r.get("direction", "FORWARD")).upper(),
                tuple(str(t).upper() for t in r.get("terminated_by", ())),
                int(r["max_scope"]) if "max_scope" in r else None,
                bool(r.get("at_end", False)),
            )
            for r in raw.get("context", [])
            for p in r["phrases"]
        )
    )
    for c in context:
        if c.category not in CONTEXT_CATEGORIES or c.direction not in _DIRECTIONS:
            from ..errors import Issue

            raise KnowledgeBaseError(
                [
                    Issue(
                        f"{LEXICON_FILE}: context {c.phrase!r}",
                        f"unknown category/direction {c.category}/{c.direction}",
                    )
                ]
            )
    combos = tuple(
        Combination(
            id=str(c["id"]),
            base=str(base),
            with_any=tuple(_norm(w) for w in c["with"]),
            reach=int(c.get("reach", 0)),
            unless=tuple(_norm(w) for w in c.get("unless", ())),
            present_only=bool(c.get("present_only", False)),
            also=tuple(_norm(w) for w in c.get("also", ())),
        )
        for c in raw.get("combine", [])
        # one rule may name several bases ("base = ['numbness', 'muscle_weakness']")
        for base in ([c["base"]] if isinstance(c["base"], str) else c["base"])
    )
    blocks = tuple(
        Block(
            id=str(b["id"]),
            when=tuple(_norm(w) for w in b["when"]),
            unless=tuple(_norm(w) for w in b.get("unless", ())),
            instead=str(b["instead"]) if "instead" in b else None,
        )
        for b in raw.get("block", [])
    )
    implies = {k: tuple(v) for k, v in raw.get("implies", {}).items()}
    fam = raw.get("family", {})
    uniq_units = sorted({u for u in units if u.strip()}, key=lambda u: (-len(u), u))
    return Lexicon(
        concepts=concepts,
        negated_concepts=negated,
        absent_only=absent_only,
        ignore=ignore,
        locators=locators,
        medications=meds,
        medication_classes=med_classes,
        labs=labs,
        units=tuple(uniq_units),
        context=context,
        combinations=combos,
        implies=implies,
        family_history_id=str(fam.get("history_id", "family_history_b12_or_autoimmune")),
        family_ids=frozenset(fam.get("ids", [])),
        family_phrases=tuple(_norm(p) for p in fam.get("extra_phrases", [])),
        evidence_ids=evidence_ids,
        version=str(raw.get("meta", {}).get("version", "")),
        lab_symbols=lab_symbols,
        current_only=current_only,
        recent_only=frozenset(str(i) for i in raw.get("current_only", {}).get("recent_ids", [])),
        long_ago=frozenset(_norm(p) for p in raw.get("current_only", {}).get("long_ago", [])),
        ongoing=tuple(_norm(p) for p in raw.get("current_only", {}).get("ongoing", [])),
        ongoing_ids=frozenset(str(i) for i in raw.get("current_only", {}).get("ongoing_ids", [])),
        past_only=frozenset(_norm(p) for p in raw.get("current_only", {}).get("past_only", [])),
        treatment_negations=frozenset(
            _norm(p) for p in raw.get("treatment_negation", {}).get("phrases", [])
        ),
        taken_ids=frozenset(str(i) for i in raw.get("treatment_negation", {}).get("ids", [])),
        filler_after=frozenset(_norm(w) for w in raw.get("fillers", {}).get("after", [])),
        filler_words=tuple(_norm(w) for w in raw.get("fillers", {}).get("words", [])),
        inflections=_inflections(raw),
        near=near,
        absent_means_present=frozenset(
            str(i) for i in raw.get("absent_only_inverse", {}).get("ids", [])
        ),
        absence_words=frozenset(
            _norm(w) for w in raw.get("absent_only_inverse", {}).get("phrases", [])
        ),
        function_phrases=frozenset(
            _norm(w) for w in raw.get("absent_only_inverse", {}).get("functions", [])
        ),
        adjacent_absence_words=frozenset(
            _norm(w) for w in raw.get("absent_only_inverse", {}).get("adjacent", [])
        ),
        not_functions=frozenset(
            _norm(w) for w in raw.get("absent_only_inverse", {}).get("not_functions", [])
        ),
        self_state_words=frozenset(
            _norm(w) for w in raw.get("absent_only_inverse", {}).get("self_state", [])
        ),
        stop_ids=frozenset(str(i) for i in raw.get("stopped_habits", {}).get("ids", [])),
        stop_words=tuple(_norm(w) for w in raw.get("stopped_habits", {}).get("words", [])),
        past_words=tuple(_norm(w) for w in raw.get("stopped_habits", {}).get("past", [])),
        long_past=frozenset(_norm(w) for w in raw.get("stopped_habits", {}).get("long_past", [])),
        blocks=blocks,
        lab_units=lab_units,
        masked=masked,
        class_of=class_of,
        carriers=frozenset(carriers),
        negation_uninformative=frozenset(
            _norm(p) for p in raw.get("negation_uninformative", {}).get("phrases", [])
        ),
    )


def _inflections(raw: dict[str, Any]) -> InflectionTable | None:
    section = raw.get("inflect")
    if not section:
        return None
    return InflectionTable(section.get("groups", []), section.get("keep", []))


def lexicon_ids(lexicon: Lexicon) -> set[str]:
    """Every evidence id the language file refers to (for consistency checks against a KB)."""
    raw = _raw()
    ids = set(raw.get("concepts", {})) | set(raw.get("lay", {}))
    ids |= {i for r in lexicon.near if not r.ignore for i in r.id.split("+")}
    ids |= {i for k in raw.get("negated_concepts", {}) for i in k.split("+")}
    ids |= {i for k in raw.get("absent_only", {}) for i in k.split("+")}
    ids |= {i for k in raw.get("multi", {}) for i in k.split("+")}
    ids |= {site for loc in lexicon.locators for site in loc.sites}
    ids |= {c.id for c in lexicon.combinations} | {c.base for c in lexicon.combinations}
    ids |= set(lexicon.implies) | {i for v in lexicon.implies.values() for i in v}
    ids |= set(lexicon.family_ids) | {lexicon.family_history_id}
    ids |= set(lexicon.current_only) | set(lexicon.recent_only)
    ids |= {b.id for b in lexicon.blocks} | {b.instead for b in lexicon.blocks if b.instead}
    return ids


def lexicon_lab_ids() -> set[str]:
    return set(_raw().get("labs", {}))
