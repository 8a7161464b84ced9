"""The medspaCy pipeline: a blank English spaCy model, rule-based sentences, a TargetMatcher built
from the lexicon and ConText with rules for patient speech and clinical notes.

Nothing is downloaded: ``spacy.blank("en")`` needs no model package, and medspaCy ships its
sentence rules. spaCy and medspaCy are imported here only, and only when a text is parsed.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise
from typing import Any

from ..errors import MissingExtraError
from .extract import (
    find_age,
    find_duration_years,
    find_lab_value,
    find_next_lab_value,
    find_pregnant,
    find_proxy_relative,
    find_sex,
)
from .inflect import phrase_forms, word_forms
from .lexicon import Block, Lexicon, Locator
from .models import Context, EvidenceMention, LabMention, MedicationMention, Modifier, ParseResult
from .vitals import find_vitals

__all__ = ["load_pipeline", "parse_with"]

_EV, _NEG, _ABS, _IGN = "EV", "NEG", "ABS", "IGN"
_CLAUSE_END = "b12dx_clause_end"
_MED, _MCL, _LAB, _FAM = "MED", "MCL", "LAB", "FAMX"
_lock = threading.Lock()
_parse_lock = threading.Lock()
_LONG_RUN = re.compile(r"\S{64,}")
_pipelines: dict[str, Any] = {}


def _import_medspacy() -> tuple[Any, Any, Any]:
    try:
        # spaCy 3.7 imports click.parser.split_arg_string, deprecated in click 8.2+: a warning
        # about spaCy's own code that our users cannot act on
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import medspacy
            from medspacy.context import ConTextRule
            from medspacy.ner import TargetRule
    except ImportError as exc:
        raise MissingExtraError(
            "free-text intake (b12dx parse, --text, POST /v1/parse)", "nlp", exc.name or "medspacy"
        ) from None
    return medspacy, TargetRule, ConTextRule


def load_pipeline(lexicon: Lexicon) -> Any:
    """The compiled spaCy ``Language`` for *lexicon* (built once per lexicon, then cached)."""
    key = lexicon.key
    with _lock:
        nlp = _pipelines.get(key)
        if nlp is None:
            nlp = _pipelines[key] = _build(lexicon)
        return nlp


def _build(lexicon: Lexicon) -> Any:
    medspacy, TargetRule, ConTextRule = _import_medspacy()
    from spacy.tokens import Token

    if not Token.has_extension(_CLAUSE_END):
        Token.set_extension(_CLAUSE_END, getter=_clause_end)
    nlp = medspacy.load(medspacy_enable=["medspacy_target_matcher"], load_rules=False)
    # spaCy's rule-based sentencizer (punctuation and line breaks) rather than PyRuSH: PyRuSH is
    # pure Python and takes seconds on long runs of digits or spaces; patient text needs no more
    nlp.add_pipe(
        "sentencizer",
        first=True,
        config={"punct_chars": [".", "!", "?", ";", "\n", "\n\n", "...", "•"]},
    )
    nlp.add_pipe(
        "medspacy_context",
        config={"rules": None, "prune_on_target_overlap": True, "span_attrs": "default"},
    )
    rules = []
    seen: set[str] = set()
    tokenizer = nlp.tokenizer

    def add(phrase: str, label: str) -> None:
        if not phrase or phrase in seen:
            return
        seen.add(phrase)
        # spaCy splits "t2dm" but not "T2DM": match the token sequences of the usual casings;
        # carriers as written ("swelling of both legs" must not become "swelling of my leg")
        filled = label.startswith((_EV, _NEG)) and label.partition(":")[2] not in lexicon.carriers
        for toks in _casings(tokenizer, phrase):
            rules.append(TargetRule(phrase, label, pattern=_pattern(toks, lexicon, filled=filled)))

    # order matters only for identical phrases; the matcher keeps the longest span
    for p in lexicon.ignore:
        add(p, f"{_IGN}:-")
    rules.extend(_near_rules(lexicon, TargetRule, ignore=True))
    rules.extend(_near_rules(lexicon, TargetRule, ignore=False, carriers=True))
    for p, ident in lexicon.negated_concepts.items():
        add(p, f"{_NEG}:{ident}")
    for p, ident in lexicon.absent_only.items():
        add(p, f"{_ABS}:{ident}")
    for p, ident in lexicon.concepts.items():
        add(p, f"{_EV}:{ident}")
    rules.extend(_near_rules(lexicon, TargetRule, ignore=False))
    for p, generic in lexicon.medications.items():
        add(p, f"{_MED}:{generic}")
    for p, cls in lexicon.medication_classes.items():
        add(p, f"{_MCL}:{cls}")
    for p, test in lexicon.labs.items():
        add(p, f"{_LAB}:{test}")
    for p in lexicon.family_phrases:
        add(p, f"{_FAM}:{lexicon.family_history_id}")
    nlp.get_pipe("medspacy_target_matcher").add(rules)

    ctx_rules = []
    for c in lexicon.context:
        # token patterns (not literals), for the same casing reason as the targets above
        for toks in _casings(tokenizer, c.phrase):
            ctx_rules.append(
                ConTextRule(
                    c.phrase,
                    c.category,
                    pattern=_context_pattern(toks, at_end=c.at_end),
                    direction=c.direction,
                    terminated_by=set(c.terminated_by) or None,
                    max_scope=c.max_scope,
                )
            )
    nlp.get_pipe("medspacy_context").add(ctx_rules)
    return nlp


def _context_pattern(toks: tuple[str, ...], *, at_end: bool) -> list[dict[str, Any]]:
    pattern: list[dict[str, Any]] = [{"LOWER": t} for t in toks]
    if at_end and pattern:
        pattern[-1] = {**pattern[-1], "_": {_CLAUSE_END: True}}
    return pattern


def _clause_end(token: Any) -> bool:
    """The token ends the text or is followed by punctuation or a line break."""
    doc = token.doc
    if token.i + 1 >= len(doc):
        return True
    nxt = doc[token.i + 1]
    return bool(nxt.is_punct or nxt.is_space or nxt.is_sent_start)


def _pattern(toks: tuple[str, ...], lexicon: Lexicon, *, filled: bool) -> list[dict[str, Any]]:
    """Token patterns for a phrase; after a linking verb ("my tongue is sore") optional filler
    words may stand ("my tongue is really sore", "my eyes have gone a bit yellow")."""
    out: list[dict[str, Any]] = []
    forms = (
        phrase_forms(toks, lexicon.inflections)
        if filled and lexicon.inflections is not None
        else [frozenset({t}) for t in toks]
    )
    for i, t in enumerate(toks):
        if t == "#":  # any number ("lost # kg", "a # hour flight": "12-hour")
            out += [{"LIKE_NUM": True}, {"ORTH": "-", "OP": "?"}]
            continue
        # other forms of the word ("calves seize up" also matches "my calf seized up")
        out.append({"LOWER": t} if len(forms[i]) == 1 else {"LOWER": {"IN": sorted(forms[i])}})
        if (
            filled
            and lexicon.filler_words
            and t in lexicon.filler_after
            and i + 1 < len(toks)
            and toks[i + 1] not in lexicon.filler_words
        ):
            if t in _COPULAS:  # "my tongue isn't sore": read, then negated (_negated_inside)
                out.append({"LOWER": {"IN": sorted(_NEG_WORDS)}, "OP": "?"})
            out.append({"LOWER": {"IN": list(lexicon.filler_words)}, "OP": "*"})
    return out


_COPULAS = frozenset({"is", "are", "was", "were", "am", "'m", "'s", "'re"})
_NEG_WORDS = frozenset({"n't", "not", "never"})


def _own_state(ctx: Context, ent: Any, lexicon: Lexicon) -> Context:
    """ "No wasting, reflexes absent at the ankles": a phrase that says its own absence or loss
    ("reflexes absent", "unable to walk") after a comma is a statement of its own, which a
    negation before the comma does not reach."""
    if not ctx.negated or not lexicon.self_state_words:
        return ctx
    words = set(_bare(ent.text).split())
    if not words & lexicon.self_state_words:
        return ctx
    dropped = set()
    for m in ent._.modifiers:
        end = m.modifier_span[1]
        negation = str(m.category) == "NEGATED_EXISTENCE" and end <= ent.start
        if negation and any(t.text == "," for t in ent.doc[end : ent.start]):
            dropped.add(ent.doc[m.modifier_span[0] : end].text)
    return _drop_negations(ctx, dropped)


def _drop_negations(ctx: Context, dropped: set[str]) -> Context:
    """*ctx* without the negation modifiers whose phrases are in *dropped*."""
    if not dropped:
        return ctx
    kept = tuple(
        m for m in ctx.modifiers if m.category != "NEGATED_EXISTENCE" or m.phrase not in dropped
    )
    negated = any(m.category == "NEGATED_EXISTENCE" for m in kept)
    return ctx.model_copy(update={"negated": negated, "modifiers": kept})


_CLAUSE_BREAKS = frozenset({",", ";"})
# words that do not make a subject of their own before a negation ("..., all denied", "..., not
# really", "..., which were absent")
_NO_SUBJECT_WORDS = (
    "all both each any and or but which that these those this it they "
    "them were was is are been be has have had otherwise really also entirely "
    "completely quite totally so far as yet still i he she we you pt patient the a an"
)
_NO_SUBJECT = frozenset(_NO_SUBJECT_WORDS.split())


def _negation_after_break(ctx: Context, ent: Any, ents: list[Any]) -> Context:
    """ "Areflexia in the legs, sensory modalities relatively intact", "Both calves tender, skin
    unremarkable": a negation said after a finding that states its own condition, with a comma
    between them, belongs to the words after the comma, which have a subject of their own. A list
    of findings before one negation ("Calf tenderness, swelling, redness: none") keeps it: there
    another finding stands between the comma and the negation."""
    if not ctx.negated:
        return ctx
    dropped = set()
    for m in ent._.modifiers:
        start = m.modifier_span[0]
        if str(m.category) != "NEGATED_EXISTENCE" or start < ent.end:
            continue
        between = ent.doc[ent.end : start]
        cuts = [t.i for t in between if t.text in _CLAUSE_BREAKS]
        if not cuts:
            continue
        last_cut = cuts[-1]
        own = [
            t for t in ent.doc[last_cut + 1 : start] if t.is_alpha and t.lower_ not in _NO_SUBJECT
        ]
        listed = not own or any(
            e.label_.partition(":")[0] == _EV and last_cut < e.start < start for e in ents
        )
        if not listed:
            dropped.add(ent.doc[start : m.modifier_span[1]].text)
    return _drop_negations(ctx, dropped)


# "never ... until this year", "no cramps until I started the statin": the negation dates an onset
# ... and "no chest pain at rest, only when I climb stairs": the negation bounds a condition
_UNTIL = re.compile(
    r"^(?:[^,;.:]{0,60}?\buntil\s+(?!(?:i|he|she|they)\s+(?:quit|stopped|gave)\b)"
    r"|[^;.:]{0,40}?\b(?:only|except|apart\s+from|other\s+than)\s+"
    r"(?:when|whenever|on|with|after|during|if|while|at)\b)",
    re.IGNORECASE,
)


def _until_onset(ctx: Context, ent: Any, text: str) -> Context:
    """A negation followed in its clause by "until" tells when the finding began ("I never had
    any trouble with my balance until this year"), and one followed by "only when" bounds it ("no
    chest pain at rest, only when I climb stairs"): the finding is there."""
    if not ctx.negated or not _UNTIL.match(text[ent.end_char : ent.sent.end_char]):
        return ctx
    # a negation said after the finding ("smoked until last week, when he quit") still holds
    after = {
        ent.doc[m.modifier_span[0] : m.modifier_span[1]].text
        for m in ent._.modifiers
        if m.modifier_span[0] >= ent.end
    }
    kept = tuple(m for m in ctx.modifiers if m.category != "NEGATED_EXISTENCE" or m.phrase in after)
    negated = any(m.category == "NEGATED_EXISTENCE" for m in kept)
    return ctx.model_copy(update={"negated": negated, "modifiers": kept})


def _negated_inside(ctx: Context, ent: Any) -> Context:
    """A negation the phrase itself does not have, standing after its linking verb ("my urine
    isn't dark", "my eyes are not yellow"), negates the mention."""
    if ctx.negated:
        return ctx
    inside = [t for t in ent if t.lower_ in _NEG_WORDS]
    # the tokenizer splits "cannot" into "can" + "not": count the phrase's own "cannot" as one
    literal = (
        str(getattr(ent._, "literal", "") or "")
        .lower()
        .replace("n't", " n't")
        .replace("cannot", "can not")
        .split()
    )
    if not inside or len(inside) <= sum(w in _NEG_WORDS for w in literal):
        return ctx
    mod = Modifier(category="NEGATED_EXISTENCE", phrase=inside[0].text)
    return ctx.model_copy(update={"negated": True, "modifiers": (*ctx.modifiers, mod)})


def _near_rules(
    lexicon: Lexicon, TargetRule: Any, *, ignore: bool, carriers: bool = False
) -> list[Any]:
    """Token rules for the lexicon's near rules ("my calves will often seize"): a word of one set,
    a few listed words, a word of another. Ignore and carrier rules are matched as written
    ("legs swell" blocks a reading; "leg swelled" must not); ignore rules are added first, so they
    win ties, then carrier rules (swollen legs are a limb symptom, not one swollen calf)."""
    out = []
    for n, rule in enumerate(lexicon.near):
        if rule.ignore != ignore or (rule.id in lexicon.carriers) != carriers:
            continue
        as_written = rule.ignore or rule.id in lexicon.carriers  # "legs swell", not "leg"
        first = sorted(rule.first) if as_written else _near_forms(rule.first, lexicon)
        then = sorted(rule.then) if as_written else _near_forms(rule.then, lexicon)
        pattern: list[dict[str, Any]] = [{"LOWER": {"IN": first}}]
        if rule.between and rule.gap:
            pattern.append({"LOWER": {"IN": list(rule.between)}, "OP": f"{{0,{rule.gap}}}"})
        pattern.append({"LOWER": {"IN": then}})
        label = f"{_IGN}:-" if rule.ignore else f"{_EV}:{rule.id}"
        out.append(TargetRule(f"near:{rule.id}:{n}", label, pattern=pattern))
    return out


def _near_forms(words: tuple[str, ...], lexicon: Lexicon) -> list[str]:
    forms: set[str] = set()
    for w in words:
        forms |= word_forms(w, lexicon.inflections) if lexicon.inflections else {w}
    return sorted(forms)


def _casings(tokenizer: Any, phrase: str) -> list[tuple[str, ...]]:
    """The lower-cased token sequences of *phrase* as written, in capitals and in title case."""
    variants = (phrase, phrase.upper(), phrase.title(), phrase.capitalize())
    return sorted({tuple(t.lower_ for t in tokenizer(v)) for v in variants})


def _context(ent: Any) -> Context:
    mods = tuple(
        Modifier(
            category=str(m.category), phrase=ent.doc[m.modifier_span[0] : m.modifier_span[1]].text
        )
        for m in ent._.modifiers
    )
    return Context(
        negated=bool(ent._.is_negated),
        historical=bool(ent._.is_historical),
        family=bool(ent._.is_family),
        hypothetical=bool(ent._.is_hypothetical),
        uncertain=bool(ent._.is_uncertain),
        modifiers=mods,
    )


_NEG_HEAD = re.compile(
    r"^(?:no|not|never|neither|nor|don't|doesn't|didn't|do\s+not|does\s+not|did\s+not)\b",
    re.IGNORECASE,
)
# the rest of a negated list: a comma or "or", then at most two words that do not open a new clause
# ("never smoked, and my feet tingle" is two statements)
_LIST_GAP = re.compile(
    r"^\s*(?:,|\bor\b|\bnor\b)\s*(?:(?:or|nor)\s+)?"
    r"(?:(?!(?:and|but|my|his|her|their|i|she|he|it|they|we|the)\b)[\w'-]+\s+){0,2}$",
    re.IGNORECASE,
)


def _list_negation(carry: Any, ent: Any, prev: Any, kind: str, ctx: Context) -> tuple[Any, Context]:
    """ "Does not smoke, drink alcohol or use drugs": a phrase that states an absence takes its
    negation trigger with it, so the rest of the list (joined by commas or "or") is negated here.
    Returns the list head still in force and the mention's context."""
    if kind == _NEG and _NEG_HEAD.match(ent.text):
        return ent, ctx
    if carry is None or prev is None or ent.sent.start != carry.sent.start:
        return None, ctx
    gap = ent.doc.text[prev.end_char : ent.start_char]
    if kind not in (_EV, _ABS) or ctx.negated or ctx.modifiers or not _LIST_GAP.match(gap):
        return None, ctx
    mod = Modifier(category="NEGATED_EXISTENCE", phrase=carry.text)
    return carry, ctx.model_copy(update={"negated": True, "modifiers": (*ctx.modifiers, mod)})


# A phrase that opens with a trigger's own words ("history of DVT", "had a temperature") swallows
# the trigger, so ConText drops it: "no history of DVT", "I haven't had a temperature".
_TRIGGER_LEAD = re.compile(
    r"^(?:history\s+of|hx\s+of|h/o|had|have|has|'ve|got|get|gets|feel|feels|previous|prior|any)\b",
    re.IGNORECASE,
)
_NEG_JUST_BEFORE = re.compile(
    r"(?:\b(?:no|not|never|nil|without|denies|denied|deny)|n't)\s*$", re.IGNORECASE
)


def _negated_before(ctx: Context, ent: Any, text: str) -> Context:
    """Negate a mention whose opening words were a negation trigger's own ("no history of DVT")."""
    if ctx.negated or not _TRIGGER_LEAD.match(ent.text):
        return ctx
    head = text[max(ent.sent.start_char, ent.start_char - 12) : ent.start_char]
    found = _NEG_JUST_BEFORE.search(head)
    if found is None:
        return ctx
    mod = Modifier(category="NEGATED_EXISTENCE", phrase=found.group(0).strip())
    return ctx.model_copy(update={"negated": True, "modifiers": (*ctx.modifiers, mod)})


def _treatment_negation_only(ctx: Context, ident: str, lexicon: Lexicon) -> Context:
    """ "Not on insulin, and high blood pressure": a trigger that negates what a person takes does
    not negate a condition (only medicines and the lexicon's taken ids)."""
    negs = [m for m in ctx.modifiers if m.category == "NEGATED_EXISTENCE"]
    if not negs or ident in lexicon.taken_ids:
        return ctx
    if not all(" ".join(m.phrase.lower().split()) in lexicon.treatment_negations for m in negs):
        return ctx
    kept = tuple(m for m in ctx.modifiers if m.category != "NEGATED_EXISTENCE")
    return ctx.model_copy(update={"negated": False, "modifiers": kept})


def _unfamily(ctx: Context, proxy: str) -> Context:
    """Drop the FAMILY modifiers that name the relative the text is about."""
    family = [m for m in ctx.modifiers if m.category == "FAMILY"]
    if not family or any(m.phrase.lower().removeprefix("my ") != proxy for m in family):
        return ctx
    kept = tuple(m for m in ctx.modifiers if m.category != "FAMILY")
    return ctx.model_copy(update={"family": False, "modifiers": kept})


def _state(ctx: Context, *, inherently_negative: bool = False) -> str:
    if ctx.hypothetical or ctx.uncertain:
        return "unknown"
    if inherently_negative:
        return "unknown" if ctx.negated else "absent"
    return "absent" if ctx.negated else "present"


@lru_cache(maxsize=64)
def _any_word(words: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled pattern for "any of these phrases, as whole words"."""
    # "#" stands for a number in digits or words ("over # days": "over three days")
    alts = "|".join(re.escape(w).replace("\\#", _NUMBER) for w in words)
    return re.compile(r"(?<![\w])(?:" + alts + r")(?![\w])")


_NUMBER = (
    r"(?:\d+(?:[.,]\d+)?|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"a few|a couple of|several|many)"
    r"(?:\s+or\s+(?:\d+|two|three|four|five|six|seven|eight|nine|ten))?"
)


def parse_with(text: str, lexicon: Lexicon) -> ParseResult:
    """Parse *text* with the pipeline for *lexicon*."""
    nlp = load_pipeline(lexicon)
    # spaCy's tokenizer is slow on very long unbroken strings; no word is 64 characters long,
    # so blank such runs (same length, so character offsets stay true)
    tokens_only = _LONG_RUN.sub(lambda m: " " * len(m.group()), text)
    # ConText compares every pair of triggers in a doc: read sentence-sized pieces so that the
    # work stays linear in the length of the text
    segments = _segments(tokens_only)
    with _parse_lock:  # one Language object, shared; parsing a text takes milliseconds
        docs = list(nlp.pipe(tokens_only[a:b] for a, b in segments))
    evidence: list[EvidenceMention] = []
    meds: list[MedicationMention] = []
    labs: list[LabMention] = []
    before = ""
    proxy = find_proxy_relative(text)
    pieces: list[tuple[str, list[EvidenceMention]]] = []
    for (offset, end), doc in zip(segments, docs, strict=True):
        first = len(evidence)
        before = _read(doc, text[offset:end], offset, lexicon, evidence, meds, labs, before, proxy)
        pieces.append((text[offset:end], evidence[first:]))
    evidence.extend(_carried(pieces, lexicon))
    evidence.extend(_implied(evidence, lexicon))
    evidence.extend(find_vitals(text, lexicon.evidence_ids or None))
    evidence = _stopped_habits(evidence, lexicon)
    evidence = _answered_no(evidence, text)
    if lexicon.carriers:
        evidence = [e for e in evidence if e.id not in lexicon.carriers]
    labs.extend(_symbol_labs(text, lexicon, labs))
    labs = [_accepted_unit(lab, lexicon) for lab in labs]
    pregnant = find_pregnant(text)
    sex = find_sex(text) or ("female" if pregnant else None)
    return ParseResult(
        evidence=tuple(evidence),
        medications=tuple(
            _class_stops(_pronoun_stops(_shared_durations(meds, text), evidence, text), lexicon)
        ),
        labs=tuple(labs),
        age=find_age(text),
        sex=sex,
        pregnant=pregnant,
    )


# a sentence that goes on about the symptom just named ("I get cramps in my calves. They wake me
# at night."): a pronoun or "the cramps" among its first words
_REFERS_BACK = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(?:they|them|these|those|it|the\s+(?:cramps?|spasms?|pain|tingling|"
    r"numbness|weakness|tightness|night\s+ones|ones))\b",
    re.IGNORECASE,
)
# ... and says nothing of it in the negative ("They never come at night")
_DENIES = re.compile(r"\b(?:not|never|no|none|neither|nor|without)\b|n't\b", re.IGNORECASE)


def _accepted_unit(lab: LabMention, lexicon: Lexicon) -> LabMention:
    """The value as read, without a unit its test does not accept ("HbA1c 5.9%": the KB takes
    mmol/mol), so that the Case built from it stays valid."""
    accepted = lexicon.lab_units.get(lab.test)
    if lab.unit is None or accepted is None or lab.unit.lower() in accepted:
        return lab
    return lab.model_copy(update={"unit": None})


def _carried(
    pieces: list[tuple[str, list[EvidenceMention]]], lexicon: Lexicon
) -> list[EvidenceMention]:
    """Combinations completed by the next sentence when it refers back to a symptom of the one
    before ("They mostly come at night": nocturnal cramps) and names no symptom of its own that
    the combination could take instead."""
    out: list[EvidenceMention] = []
    for (_, mine), (after, theirs) in pairwise(pieces):
        if not _REFERS_BACK.search(after) or _DENIES.search(after):
            continue
        own = {m.id for m in theirs}
        seen = {m.id for m in mine}
        bases = lexicon.combination_bases
        if own & bases:
            continue
        sentence = after.lower()
        for m in mine:
            if m.state != "present" or m.via is not None or m.id not in bases:
                continue
            for found in _combined(m.id, m.state, m.span, m.phrase, m.context, sentence, lexicon):
                if found.id not in seen and found.id not in own:
                    seen.add(found.id)
                    out.append(found)
    return out


_BREAK = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(])|\n\s*")
_MAX_SEGMENT = 400


def _segments(text: str) -> list[tuple[int, int]]:
    """Sentence-sized pieces of *text* (start, end), none longer than ``_MAX_SEGMENT``."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for m in _BREAK.finditer(text):
        bounds.extend(_cut(text, start, m.start()))
        start = m.end()
    bounds.extend(_cut(text, start, len(text)))
    return [(a, b) for a, b in bounds if text[a:b].strip()]


def _cut(text: str, a: int, b: int) -> list[tuple[int, int]]:
    out = []
    while b - a > _MAX_SEGMENT:
        cut = text.rfind(" ", a + _MAX_SEGMENT // 2, a + _MAX_SEGMENT)
        cut = cut if cut > a else a + _MAX_SEGMENT
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out


def _read(
    doc: Any,
    text: str,
    offset: int,
    lexicon: Lexicon,
    evidence: list[EvidenceMention],
    meds: list[MedicationMention],
    labs: list[LabMention],
    before: str = "",
    proxy: str | None = None,
) -> str:
    """Collect the mentions of one piece of text (*offset*: where it starts in the whole;
    *before*: the piece before it, for combinations that reach back one sentence; *proxy*: the
    relative the whole text is about, "My father is 66 ...", whose mentions are not family
    history). Returns the piece as combinations see it (lower case, masked phrases blanked)."""
    ents = list(doc.ents)
    seen = _masked_lower(text, ents, lexicon)
    carry: Any = None  # a phrase that states an absence and heads a list ("does not smoke, ...")
    for idx, ent in enumerate(ents):
        kind, _, ident = ent.label_.partition(":")
        span = (offset + ent.start_char, offset + ent.end_char)
        if kind == _IGN:
            continue
        ctx = _context(ent)
        if proxy and ctx.family:
            ctx = _unfamily(ctx, proxy)
        sent = ent.sent
        if kind == _EV:
            ctx = _negated_inside(_negated_before(_own_state(ctx, ent, lexicon), ent, text), ent)
            ctx = _until_onset(ctx, ent, text)
            ctx = _negation_after_break(ctx, ent, ents)
        if kind in (_EV, _ABS) and ctx.negated:
            ctx = _treatment_negation_only(ctx, ident, lexicon)
        carry, ctx = _list_negation(carry, ent, ents[idx - 1] if idx else None, kind, ctx)
        if kind == _LAB:
            nxt = _next_start(ents, idx, kind_of=(_LAB,), limit=sent.end_char)
            after = text[ent.end_char : nxt]
            found = find_lab_value(after, lexicon.units)
            if found is not None:
                value, unit, end = found
                labs.append(
                    LabMention(
                        test=ident,
                        value=value,
                        unit=unit,
                        span=(offset + ent.start_char, offset + ent.end_char + end),
                        phrase=text[ent.start_char : ent.end_char + end],
                    )
                )
                labs.extend(_later_values(ident, after, end, unit, lexicon, offset + ent.end_char))
            continue
        if kind in (_MED, _MCL):
            nxt = _next_start(ents, idx, kind_of=(_MED, _MCL), limit=sent.end_char)
            prev = _prev_end(ents, idx, kind_of=(_MED, _MCL), limit=sent.start_char)
            years = find_duration_years(text[ent.end_char : nxt], text[prev : ent.start_char])
            state = (
                "unknown"
                if (ctx.hypothetical or ctx.uncertain or ctx.family)
                else ("absent" if ctx.negated else "present")
            )
            if state == "present" and _STOPPED_AFTER.match(text[ent.end_char : ent.end_char + 40]):
                state = "absent"  # "Omeprazole stopped and changed to famotidine"
            meds.append(
                MedicationMention(
                    name=ident if kind == _MED else None,
                    drug_class=ident if kind == _MCL else None,
                    years=years,
                    state=state,
                    span=span,
                    phrase=ent.text,
                    context=ctx,
                )
            )
            continue
        if kind == _ABS and not ctx.negated:
            if not ctx.family:
                continue  # "strength" alone says nothing; "strength normal" says no weakness
            kind = _EV  # "my mother has thyroid disease": the relative's condition
        idents = ident.split("+")
        if kind == _EV:
            for loc in lexicon.locators:
                if ident == loc.id:
                    idents = _locate(ent, loc, ents, idx)
                    if not idents and ctx.negated and not ctx.family:
                        idents = list(loc.unsited_denial)  # "no tingling": not anywhere
                elif ident in loc.sites:  # "feet tingle" may also say "hands and feet"
                    idents = list(dict.fromkeys([*idents, *_locate(ent, loc, ents, idx)]))
        for one in idents:
            evidence.extend(_mention(kind, one, ent, ctx, lexicon, offset, before, seen))
    return seen


def _masked_lower(text: str, ents: list[Any], lexicon: Lexicon) -> str:
    """*text* in lower case with the masked ignore phrases blanked (same length), so that a
    combination does not read "football" in "I play football professionally"."""
    low = text.lower()
    if not lexicon.masked:
        return low
    for ent in ents:
        if ent.label_.startswith(f"{_IGN}:") and _bare(ent.text) in lexicon.masked:
            a, b = ent.start_char, ent.end_char
            low = low[:a] + " " * (b - a) + low[b:]
    return low


def _bare(text: str) -> str:
    return " ".join(text.lower().split())


def _block(ident: str, sentence: str, lexicon: Lexicon) -> Block | None:
    """The block rule for *ident* with a word in the sentence and none of its exceptions."""
    for b in lexicon.blocks:
        hit = b.id == ident and _any_word(b.when).search(sentence)
        if hit and not (b.unless and _any_word(b.unless).search(sentence)):
            return b
    return None


_SHARED = re.compile(r"^\W*(?:both|all(?:\s+of\s+them)?|each)\b", re.IGNORECASE)


def _class_stops(meds: list[MedicationMention], lexicon: Lexicon) -> list[MedicationMention]:
    """A class stopped after a medicine of it was named ("on atorvastatin ... My doctor stopped
    the statin", "the statin was held") stops that medicine, and a medicine stopped after its
    class was named ("put me on a statin, Crestor ... I stopped the Crestor") stops the class
    mention: an absent mention is added at the stopping mention's place, so the last mention
    still decides."""
    out: list[MedicationMention] = []
    named: dict[str, str] = {}  # generic -> class, in the order named
    classes: set[str] = set()  # classes named on their own and taken
    for m in meds:
        out.append(m)
        if m.name is not None and m.name in lexicon.class_of:
            cls = lexicon.class_of[m.name]
            named[m.name] = cls
            if m.state == "absent" and cls in classes:
                out.append(m.model_copy(update={"name": None, "drug_class": cls}))
        elif m.drug_class is not None and m.state == "absent":
            for name in [n for n, c in named.items() if c == m.drug_class]:
                out.append(m.model_copy(update={"name": name, "drug_class": None}))
        elif m.drug_class is not None and m.state == "present":
            classes.add(m.drug_class)
    return out


# a medicine stopped and referred to by a pronoun ("I took myself off it", "so I stopped them"):
# "off it" is said only of something taken; "stopped it" may be a symptom, so it must follow the
# medicine with no finding named in between
_PRONOUN_OFF = re.compile(
    r"\b(?:came|come|comes|coming|took\s+(?:myself|himself|herself|me|him|her)|taken|"
    r"weaned\s+(?:myself\s+|himself\s+|herself\s+)?|went|gone|go)\s+off\s+(?:it|them)\b",
    re.IGNORECASE,
)
_PRONOUN_STOP = re.compile(
    r"\b(?:stopped(?:\s+taking)?|gave\s+up|quit)\s+(?:it|them)\b", re.IGNORECASE
)
_PRONOUN_REACH = 200  # characters back to the medicine the pronoun stands for


def _pronoun_stops(
    meds: list[MedicationMention], evidence: list[EvidenceMention], text: str
) -> list[MedicationMention]:
    """A stop told with "it" or "them" stops the medicine named just before it, when nothing
    else the text names (a finding or another medicine) stands between them."""
    out = list(meds)
    stops = [(f, False) for f in _PRONOUN_OFF.finditer(text)]
    stops += [(f, True) for f in _PRONOUN_STOP.finditer(text)]
    for found, strict in stops:
        at = found.start()
        before = [m for m in meds if m.span[1] <= at and at - m.span[1] <= _PRONOUN_REACH]
        if not before:
            continue
        last = max(before, key=lambda m: m.span[1])
        between = [e for e in evidence if last.span[1] <= e.span[0] and e.span[1] <= at]
        if last.state != "present" or (strict and between):
            continue
        out.append(
            last.model_copy(
                update={"state": "absent", "span": (at, found.end()), "phrase": found.group(0)}
            )
        )
    return sorted(out, key=lambda m: m.span[0])


def _shared_durations(meds: list[MedicationMention], text: str) -> list[MedicationMention]:
    """ "simvastatin and bendroflumethiazide, both for 10 years": the years apply to both."""
    out = list(meds)
    for i, med in enumerate(out):
        if med.years is None or not _SHARED.search(text[med.span[1] : med.span[1] + 20]):
            continue
        sentence_start = max(text.rfind(".", 0, med.span[0]), text.rfind("\n", 0, med.span[0]))
        for j in range(i - 1, -1, -1):
            if out[j].span[0] <= sentence_start:
                break
            if out[j].years is None:
                out[j] = out[j].model_copy(update={"years": med.years})
    return out


_SITE_FILLERS = frozenset(
    {"both", "my", "the", "his", "her", "their", "of", "and", "left", "right"}
)


def _locate(ent: Any, loc: Locator, ents: list[Any], idx: int) -> list[str]:
    """Evidence ids for a site-less mention, from site words near it in its sentence (but not
    beyond the neighbouring findings: "tingling and spasms of the hands")."""
    sent = ent.sent
    start = max(sent.start, ent.start - loc.window)
    end = min(sent.end, ent.end + loc.window)

    site_words = {w for ws in loc.sites.values() for w in ws for w in w.split()}

    # numbness travels with tingling ("numb and tingly fingers"), and a mention made only of
    # site words ("both feet") names a place: neither is a boundary
    def boundary(other: Any) -> bool:
        if not other.label_.startswith(f"{_EV}:") or other.label_ == f"{_EV}:numbness":
            return False
        return not all(t.lower_ in site_words or t.lower_ in _SITE_FILLERS for t in other)

    after = None
    for other in ents[idx + 1 :]:
        if boundary(other) and other.start >= ent.end:
            end = min(end, other.start)
            if other.start - ent.end <= 2:  # joined by "and"/"with"
                after = other
            break
    before = None
    for other in reversed(ents[:idx]):
        if boundary(other) and other.end <= ent.start:
            start = max(start, other.end)
            before = other
            break

    def sites(a: int, b: int) -> list[str]:
        near = " " + " ".join(t.lower_ for t in ent.doc[a:b]) + " "
        hits: set[str] = set()
        owners: dict[str, set[str]] = {}
        for i, ws in loc.sites.items():
            for w in ws:
                owners.setdefault(w, set()).add(i)
        # longest site words first, each occurrence used once ("lower limbs" is not "limbs")
        for word in sorted(owners, key=len, reverse=True):
            if f" {word} " in near:
                near = near.replace(f" {word} ", " # ")
                hits |= owners[word]
        return [i for i in loc.sites if i in hits]

    found = sites(start, end)
    if not found and before is not None and before.start >= sent.start and start - before.end <= 2:
        # "weakness of both legs with tingling": the tingle shares the site of that finding, or of
        # the words just before it ("her legs went weak and tingly")
        found = sites(before.start, before.end)
        if not found and ent.start - before.end <= 2:
            found = sites(max(sent.start, before.start - loc.window), before.end)
    if not found and after is not None:
        # "paraesthesia and weakness in the feet": the site after the next finding, or inside
        # it when that phrase takes the site with it ("paraesthesia and weakness in the legs")
        found = sites(after.start, min(sent.end, after.end + loc.window))
    return found


def _mention(
    kind: str,
    ident: str,
    ent: Any,
    ctx: Context,
    lexicon: Lexicon,
    offset: int,
    before: str = "",
    seen: str = "",
) -> list[EvidenceMention]:
    span = (offset + ent.start_char, offset + ent.end_char)
    out: list[EvidenceMention] = []
    via = None
    if kind == _FAM:
        if not ctx.family:
            return out  # "my B12 is low": not a finding, and labs are read separately
        via = "family"
    elif ctx.family:
        if ident in lexicon.family_ids:
            ident, via = lexicon.family_history_id, "family"
        elif ident != lexicon.family_history_id:
            out.append(
                EvidenceMention(id=ident, state="unknown", span=span, phrase=ent.text, context=ctx)
            )
            return out
    state = _state(ctx, inherently_negative=(kind in (_NEG, _ABS)))
    if state == "present" and ctx.historical and _habit_given_up(ident, ctx, lexicon):
        state = "absent"  # "drank heavily in the past": the habit is not current
    elif state == "present" and ctx.historical and _not_current(ident, ctx, lexicon, ent.sent.text):
        state = "unknown"  # "thyroid cancer twenty years ago" is not active cancer
    bare = " ".join(ent.text.lower().split())
    if state == "present" and not ctx.historical and bare in lexicon.past_only:
        state = "unknown"  # "CT: DVT of the left leg" is the current problem, not a previous one
    sentence_text = ent.sent.text.lower()
    block = (
        _block(ident, sentence_text, lexicon)
        if kind in (_EV, _NEG) and state != "unknown"
        else None
    )
    if block is not None:
        if block.instead is None:
            state = "unknown"  # "chest pain ... settled with rest" is not claudication
        else:
            ident = block.instead  # "confused for months": a memory problem
    if kind == _EV and state == "absent" and bare in lexicon.negation_uninformative:
        state = "unknown"  # "no falls" does not say the balance is good
    if kind == _EV and state == "present" and _amount_not_over(ident, ent.text):
        state = "absent"  # "one drink a day" states an amount that is not alcohol excess
    function = kind == _EV and bare in lexicon.function_phrases
    if function and state == "absent" and _absence_of_function(ident, ent, ctx, lexicon):
        state = "present"  # "vibration and position sense absent in the feet"
    if kind == _ABS:
        state = "unknown" if ctx.hypothetical or ctx.uncertain else "absent"
        if state == "absent" and _absence_of_function(ident, ent, ctx, lexicon):
            state = "present"  # "reflexes absent in the legs" is reduced reflexes
        if state != "unknown" and _block(ident, sentence_text, lexicon) is not None:
            state = "unknown"  # "Duplex: no DVT" is today's scan, not "no previous DVT"
    out.append(
        EvidenceMention(id=ident, state=state, span=span, phrase=ent.text, context=ctx, via=via)
    )
    if kind == _EV and not ctx.family:
        sent = ent.sent
        sentence = seen[sent.start_char : sent.end_char] if seen else sent.text.lower()
        out.extend(_combined(ident, state, span, ent.text, ctx, sentence, lexicon, before))
    return out


# a questionnaire answered in the text: "Weakness? No." (the splitter ends the question before
# its answer)
_QUESTION_TAIL = re.compile(r"^[^.!?;\n]{0,40}\?")
_ANSWER_NO = re.compile(
    r"^\s*(?:no|nope|none|nil|never|negative|not\s+really|not\s+at\s+all)\b"
    r"(?!\s+(?:idea|clue|sure|doubt)\b)(?!\s+\w+\s*\?)",
    re.IGNORECASE,
)


def _answered_no(evidence: list[EvidenceMention], text: str) -> list[EvidenceMention]:
    """A finding named in a short question that the text answers "No" is absent."""
    out = []
    for m in evidence:
        tail = _QUESTION_TAIL.match(text[m.span[1] :])
        start = max(text.rfind(c, 0, m.span[0]) for c in ".!?;\n")
        short = m.span[0] - start <= 40
        if m.state == "present" and tail and short:
            answer = text[m.span[1] + tail.end() :]
            if _ANSWER_NO.match(answer):
                mod = Modifier(category="NEGATED_EXISTENCE", phrase=answer.split()[0].strip(".,"))
                ctx = m.context.model_copy(
                    update={"negated": True, "modifiers": (*m.context.modifiers, mod)}
                )
                m = m.model_copy(update={"state": "absent", "context": ctx})
        out.append(m)
    return out


def _stopped_habits(evidence: list[EvidenceMention], lexicon: Lexicon) -> list[EvidenceMention]:
    """A habit told and then said to have stopped ("I'd smoked for thirty years ... I stopped
    smoking the very next day") is not current: like a medicine, the last mention decides, so the
    earlier present mentions of it are left unknown when a stop comes after all of them. An
    amount said right after a past habit ("I used to smoke 20 a day") is the past amount."""
    if not lexicon.stop_ids or not lexicon.stop_words:
        return evidence
    stop = _any_word(lexicon.stop_words)
    past = _any_word(lexicon.past_words) if lexicon.past_words else None
    out = list(evidence)
    for ident in lexicon.stop_ids:
        mine = sorted(
            (m for m in evidence if m.id == ident and m.state != "unknown"),
            key=lambda m: m.span[0],
        )
        if not mine:
            continue
        last = mine[-1]
        said = [x.phrase.lower() for x in last.context.modifiers if x.category.startswith("NEG")]
        stopped_last = last.state == "absent" and any(stop.search(p) for p in said)
        gone: set[tuple[int, int]] = set()
        for before, m in pairwise(mine):
            if (
                past is not None
                and m.state == "present"
                and before.state == "absent"
                and past.search(before.phrase.lower())
                and 0 <= m.span[0] - before.span[1] <= _PAST_AMOUNT_REACH
            ):
                gone.add(m.span)
        if stopped_last:
            gone |= {m.span for m in mine if m.state == "present" and m.span[0] < last.span[0]}
        out = [
            m.model_copy(update={"state": "unknown"}) if m.id == ident and m.span in gone else m
            for m in out
        ]
    return out


_PAST_AMOUNT_REACH = 12  # characters between "used to smoke" and "20 a day"


def _amount_not_over(ident: str, phrase: str) -> bool:
    """The phrase states an amount at or below the sourced threshold of ``nlp_amounts.toml``."""
    from .amounts import amounts, weekly_amount

    record = amounts().get(ident)
    if record is None:
        return False
    weekly = weekly_amount(phrase, record)
    return weekly is not None and weekly <= record.per_week_over


def _absence_of_function(ident: str, ent: Any, ctx: Context, lexicon: Lexicon) -> bool:
    """The mention names a function whose absence is the finding ("reflexes absent", "no
    coordination"): every negation of it says the function is missing, and a short one ("no")
    stands right before it (so "No weakness, reflexes 2+" is not read as absent reflexes)."""
    if ident not in lexicon.absent_means_present or _bare(ent.text) in lexicon.not_functions:
        return False
    negations = [m.phrase.lower() for m in ctx.modifiers if m.category == "NEGATED_EXISTENCE"]
    if not negations:
        return False
    adjacent = {
        _bare(ent.doc[m.modifier_span[0] : m.modifier_span[1]].text)
        for m in ent._.modifiers
        if str(m.category) == "NEGATED_EXISTENCE" and _right_before(ent, m.modifier_span[1])
    }
    return all(
        _bare(p) in lexicon.absence_words
        or (_bare(p) in lexicon.adjacent_absence_words and _bare(p) in adjacent)
        for p in negations
    )


_POSSESSIVES = frozenset({"my", "his", "her", "their", "your"})


def _right_before(ent: Any, end: int) -> bool:
    """A trigger ending at token *end* stands right before *ent* (or with one possessive)."""
    if end == ent.start:
        return True
    return end == ent.start - 1 and ent.doc[end].lower_ in _POSSESSIVES


def _habit_given_up(ident: str, ctx: Context, lexicon: Lexicon) -> bool:
    """A current habit (smoking, drinking) told only as in the past, with no date that could
    make it recent ("drank heavily in the past", "the smoking I did when I was younger")."""
    return ident in lexicon.stop_ids and any(
        m.category == "HISTORICAL" and _bare(m.phrase) in lexicon.long_past for m in ctx.modifiers
    )


def _not_current(ident: str, ctx: Context, lexicon: Lexicon, sentence: str = "") -> bool:
    if ident in lexicon.current_only:
        return True
    ongoing = ident in lexicon.ongoing_ids and lexicon.ongoing
    if ongoing and _any_word(lexicon.ongoing).search(sentence.lower()):
        return False  # "a gastric bypass five years ago and I have lost 30 kg since"
    return ident in lexicon.recent_only and any(
        m.category == "HISTORICAL" and m.phrase.lower() in lexicon.long_ago for m in ctx.modifiers
    )


def _next_start(ents: list[Any], idx: int, *, kind_of: tuple[str, ...], limit: int) -> int:
    for ent in ents[idx + 1 :]:
        if ent.start_char >= limit:
            break
        if ent.label_.partition(":")[0] in kind_of:
            return int(ent.start_char)
    return limit


def _prev_end(ents: list[Any], idx: int, *, kind_of: tuple[str, ...], limit: int) -> int:
    for ent in reversed(ents[:idx]):
        if ent.end_char <= limit:
            break
        if ent.label_.partition(":")[0] in kind_of:
            return int(ent.end_char)
    return limit


def _combined(
    ident: str,
    state: str,
    span: tuple[int, int],
    phrase: str,
    ctx: Context,
    sentence: str,
    lexicon: Lexicon,
    before: str = "",
) -> Iterable[EvidenceMention]:
    for combo in lexicon.combinations:
        where = f"{before} {sentence}" if combo.reach and before else sentence
        if combo.base == ident and _any_word(combo.with_any).search(where):
            if combo.present_only and state != "present":
                continue
            if combo.unless and _any_word(combo.unless).search(sentence):
                continue  # "the weakness settled within days": an outcome, not the course
            if combo.also and not _any_word(combo.also).search(where):
                continue
            if lexicon.evidence_ids and combo.id not in lexicon.evidence_ids:
                continue
            yield EvidenceMention(
                id=combo.id, state=state, span=span, phrase=phrase, context=ctx, via="combined"
            )


# a medicine named and then said to be stopped ("Omeprazole stopped and changed to famotidine",
# "the simvastatin was discontinued", "omeprazole switched to famotidine"; "changed" alone is
# not stopping: "the metformin changed nothing"); the forward "stopped" trigger of a given-up
# habit has the same words, so ConText keeps that one and this reads the order the other way
_STOPPED_AFTER = re.compile(
    r"^\s*(?:\([^)]*\)\s*)?"
    # a dose and how often between ("Rosuvastatin 10 mg daily stopped 2 months earlier")
    r"(?:\d+(?:\.\d+)?\s*(?:mg|mcg|micrograms?|g|units?|iu)\b\s*"
    r"(?:(?:once|twice|three\s+times)\s+)?(?:daily|a\s+day|per\s+day|od|bd|nocte|at\s+night|"
    r"nightly|weekly)?\s*,?\s*)?"
    r"(?:(?:was|were|has\s+been|had\s+been|is|then)\s+)?"
    r"(?:stopped|discontinued|withdrawn|ceased|held|(?:switched|changed)(?:\s+over)?\s+to)\b",
    re.IGNORECASE,
)


def _later_values(
    test: str, after: str, end: int, unit: str | None, lexicon: Lexicon, base: int
) -> list[LabMention]:
    """Later values of the same test in the same statement ("a sodium of 121 mEq/L, eleven days
    later it was 130 mmol/L"); *after* is the text after the test's name, *end* where its first
    value ended, *base* where *after* starts in the whole text."""
    out: list[LabMention] = []
    for _ in range(3):
        found = find_next_lab_value(after[end:], lexicon.units, unit)
        if found is None:
            break
        value, unit, start, stop = found
        start, end = end + start, end + stop
        out.append(
            LabMention(
                test=test,
                value=value,
                unit=unit,
                span=(base + start, base + end),
                phrase=after[start:end],
            )
        )
    return out


def _symbol_labs(text: str, lexicon: Lexicon, found: list[LabMention]) -> list[LabMention]:
    """Element symbols in notes ("K 3.1 mmol/L", "Na: 128 mmol/L"), read only with a unit."""
    if not lexicon.lab_symbols:
        return []
    pattern = _symbol_pattern(tuple(lexicon.lab_symbols), lexicon.units)
    taken = [lab.span for lab in found]
    out: list[LabMention] = []
    for m in pattern.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        unit = next((u for u in lexicon.units if u.lower() == m.group(3).lower()), m.group(3))
        out.append(
            LabMention(
                test=lexicon.lab_symbols[m.group(1)],
                value=float(m.group(2).replace(",", ".")),
                unit=unit.replace("μ", "µ"),
                span=(m.start(), m.end()),
                phrase=m.group(0),
            )
        )
    return out


@lru_cache(maxsize=8)
def _symbol_pattern(symbols: tuple[str, ...], units: tuple[str, ...]) -> re.Pattern[str]:
    syms = "|".join(re.escape(s) for s in sorted(symbols, key=len, reverse=True))
    unit_re = "|".join(re.escape(u) for u in units)
    return re.compile(
        r"(?<![\w+])(" + syms + r")\+?\s*(?:[=:]|\bwas\b|\bof\b|\bnow\b|\bis\b|\bat\b|[<>]|"
        r"\b(?:under|below|over|above|less\s+than|more\s+than)\b|"
        r"\b(?:fell|dropped|rose|climbed|increased|decreased|went\s+(?:up|down))\s+to\b)?\s*"
        r"(\d+(?:[.,]\d+)?)\s*"
        r"(" + unit_re + r")(?![\w/])"
    )


def _implied(evidence: list[EvidenceMention], lexicon: Lexicon) -> list[EvidenceMention]:
    have = {m.id for m in evidence}
    out: list[EvidenceMention] = []
    for m in evidence:
        if m.state != "present" or m.via == "family":
            continue
        for target in lexicon.implies.get(m.id, ()):
            if target in have or (lexicon.evidence_ids and target not in lexicon.evidence_ids):
                continue
            have.add(target)
            out.append(m.model_copy(update={"id": target, "via": "implied"}))
    return out
