"""Inflection-tolerant phrase matching without a lemmatizer download.

A lexicon phrase such as "calves seize up" should also match "my calf seized up", and "pins and
needles in my feet" should match "pins and needles in her feet". ``word_forms`` gives, for one
word of a phrase, the set of surface forms the matcher accepts in its place: regular English
inflections (plural, third person, past, -ing, the adjectival -y of "tingly"/"crampy"), the
irregular groups and interchangeable function words listed in the lexicon (``[inflect]``).

Generated non-words ("weaked") are harmless: they never occur in text. Words whose other forms
mean something else ("falls" -> "falling asleep") are listed in ``[inflect] keep``.
Pure Python, no spaCy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

__all__ = ["InflectionTable", "phrase_forms", "word_forms"]

_VOWELS = frozenset("aeiou")
_MIN_WORD = 4  # shorter words ("is", "up", "arm") stay as written unless in a group


class InflectionTable:
    """Irregular groups (any member stands for all) and words never inflected."""

    def __init__(self, groups: Iterable[Iterable[str]], keep: Iterable[str]) -> None:
        index: dict[str, frozenset[str]] = {}
        for group in groups:
            members = frozenset(w.lower() for w in group)
            for w in members:
                index[w] = index.get(w, frozenset()) | members
        self.groups: Mapping[str, frozenset[str]] = index
        self.keep = frozenset(w.lower() for w in keep)

    def forms(self, word: str) -> frozenset[str]:
        return word_forms(word, self)


def _bases(w: str) -> set[str]:
    """Possible dictionary forms of *w* (over-generating is fine)."""
    out = {w}
    if w.endswith("ies") and len(w) > 4:
        out.add(w[:-3] + "y")
    if w.endswith("es") and len(w) > 4:
        out |= {w[:-2], w[:-1]}
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        out.add(w[:-1])
    if w.endswith("ing") and len(w) > 5:
        stem = w[:-3]
        out |= {stem, stem + "e"}
        if len(stem) > 2 and stem[-1] == stem[-2]:
            out.add(stem[:-1])
    if w.endswith("ed") and len(w) > 4:
        stem = w[:-2]
        out |= {stem, w[:-1]}
        if len(stem) > 2 and stem[-1] == stem[-2]:
            out.add(stem[:-1])
        if stem.endswith("i"):
            out.add(stem[:-1] + "y")
    if w.endswith("y") and len(w) > 4 and w[-2] not in _VOWELS:
        # "tingly" -> "tingle", "crampy" -> "cramp"
        out |= {w[:-1], w[:-1] + "e", w[:-2] + "le"}
    return out


def _inflect(b: str) -> set[str]:
    out = {b}
    if b.endswith("e"):
        out |= {b + "s", b + "d", b[:-1] + "ing", b[:-1] + "y"}
    elif b.endswith("y") and len(b) > 2 and b[-2] not in _VOWELS:
        out |= {b[:-1] + "ies", b[:-1] + "ied", b + "ing"}
    else:
        es = b.endswith(("s", "x", "z", "ch", "sh"))
        out |= {b + ("es" if es else "s"), b + "ed", b + "ing", b + "y"}
        # "stop" -> "stopped", "trip" -> "tripping" (consonant-vowel-consonant endings)
        if (
            len(b) >= 3
            and b[-1] not in _VOWELS
            and b[-1] not in "wxy"
            and b[-2] in _VOWELS
            and b[-3] not in _VOWELS
        ):
            out |= {b + b[-1] + "ed", b + b[-1] + "ing"}
    return out


def word_forms(word: str, table: InflectionTable) -> frozenset[str]:
    """The surface forms accepted for *word* (always including *word* itself)."""
    return _forms_cached(word.lower(), table)


@lru_cache(maxsize=8192)
def _forms_cached(w: str, table: InflectionTable) -> frozenset[str]:
    if w in table.keep:
        return frozenset({w})
    if w in table.groups:
        return table.groups[w] | {w}
    if len(w) < _MIN_WORD or not w.isalpha():
        return frozenset({w})
    out: set[str] = set()
    for b in _bases(w):
        if b in table.groups:
            out |= table.groups[b]
        elif len(b) >= 3:
            out |= _inflect(b)
    out.add(w)
    # a base guessed from a listed word must not leak into a kept word's meaning
    return frozenset(f for f in out if f == w or f not in table.keep)


def phrase_forms(tokens: tuple[str, ...], table: InflectionTable) -> list[frozenset[str]]:
    """Per token of a phrase, the accepted forms (a one-word phrase is kept as written: a
    single word's other forms are often another sense, so they are listed explicitly)."""
    if len(tokens) < 2:
        return [frozenset({t}) for t in tokens]
    return [word_forms(t, table) for t in tokens]
