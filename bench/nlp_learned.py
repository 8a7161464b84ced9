"""Would a classifier trained on the annotated texts help the rule-based reader on new text?

The question left open in ``docs/nlp.md`` ("What limits it"). Texts numbered up to
``--train-max`` train a statistical reader; the later ones (the independent annotators'
batches F to J by default) test it. Two learned readers are tried, each *added* to the rules
(a learned pair is kept only where the rules say nothing about that id):

* ``text``: one logistic regression per (id, state) on the whole text (TF-IDF of words, word
  pairs and character 3-5-grams), for pairs with at least ``--min-examples`` training texts;
* ``sentence``: one logistic regression per id on sentences, trained on the sentences where the
  rules found a gold pair (the gold has no spans); state ``absent`` when the sentence holds a
  negation cue.

Scores are those of ``b12dx evaluate-nlp`` (micro P/R/F1 over (id, state) pairs; a polarity
error is a gold absent read present or a gold present read absent). Needs scikit-learn (the
``dev`` extra brings it with pgmpy).

    .venv/bin/python bench/nlp_learned.py
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from b12dx.nlp import parse_text
from b12dx.nlp.evaluate import GoldCase, load_cases

Pairs = dict[str, str]
_NEGATION = re.compile(r"\b(no|not|denies|denied|without|never|negative|nil|none)\b|n't\b")
_SENTENCE_END = re.compile(r"[.;!?\n]+\s*")


@dataclass(frozen=True)
class Parsed:
    case: GoldCase
    rules: Pairs
    # (id, state, start, end) of every mention the rules read
    mentions: tuple[tuple[str, str, int, int], ...]


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    polarity_errors: int
    negated: int


def score(items: Sequence[Parsed], predict: Callable[[Parsed], Pairs]) -> Score:
    tp = fp = fn = errors = negated = 0
    for item in items:
        pred, gold = predict(item), item.case.gold.evidence
        p, g = set(pred.items()), set(gold.items())
        tp, fp, fn = tp + len(p & g), fp + len(p - g), fn + len(g - p)
        for ident, state in gold.items():
            negated += state == "absent"
            errors += pred.get(ident, state) != state
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return Score(precision, recall, f1, tp, fp, fn, errors, negated)


def sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _features(train: list[str], test: list[str]) -> tuple[Any, Any]:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)
    x_train = hstack([words.fit_transform(train), chars.fit_transform(train)]).tocsr()
    x_test = hstack([words.transform(test), chars.transform(test)]).tocsr()
    return x_train, x_test


def _fit_proba(x_train: Any, y: np.ndarray[Any, Any], x_test: Any) -> np.ndarray[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000)
    model.fit(x_train, y)
    return np.asarray(model.predict_proba(x_test)[:, 1])


def text_level(train: Sequence[Parsed], test: Sequence[Parsed], min_examples: int) -> Any:
    x_train, x_test = _features(
        [p.case.text.lower() for p in train], [p.case.text.lower() for p in test]
    )
    labels = sorted({pair for p in train for pair in p.case.gold.evidence.items()})
    proba: dict[tuple[str, str], np.ndarray[Any, Any]] = {}
    for ident, state in labels:
        y = np.array([p.case.gold.evidence.get(ident) == state for p in train])
        if y.sum() >= min_examples:
            proba[ident, state] = _fit_proba(x_train, y, x_test)
    row = {p.case.id: i for i, p in enumerate(test)}

    def learned(item: Parsed, threshold: float) -> Pairs:
        i = row[item.case.id]
        return {ident: state for (ident, state), pr in proba.items() if pr[i] > threshold}

    return learned


def sentence_level(train: Sequence[Parsed], test: Sequence[Parsed], min_examples: int) -> Any:
    def rows(items: Sequence[Parsed]) -> tuple[list[str], list[set[str]], list[str]]:
        texts, labels, owner = [], [], []
        for p in items:
            gold = p.case.gold.evidence
            for a, b in sentences(p.case.text):
                texts.append(p.case.text[a:b].lower())
                labels.append({i for i, s, x, _ in p.mentions if a <= x < b and gold.get(i) == s})
                owner.append(p.case.id)
        return texts, labels, owner

    tr_text, tr_labels, _ = rows(train)
    te_text, _, te_owner = rows(test)
    x_train, x_test = _features(tr_text, te_text)
    proba: dict[str, np.ndarray[Any, Any]] = {}
    for ident in sorted({i for s in tr_labels for i in s}):
        y = np.array([ident in s for s in tr_labels])
        if y.sum() >= min_examples:
            proba[ident] = _fit_proba(x_train, y, x_test)

    def learned(item: Parsed, threshold: float) -> Pairs:
        out: Pairs = {}
        for ident, pr in proba.items():
            for j in np.nonzero(pr > threshold)[0]:
                if te_owner[j] == item.case.id:
                    state = "absent" if _NEGATION.search(te_text[j]) else "present"
                    out.setdefault(ident, state)
        return out

    return learned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="tests/nlp_cases")
    ap.add_argument("--train-max", type=int, default=477)
    ap.add_argument("--min-examples", type=int, default=5)
    ap.add_argument("--thresholds", default="0.5,0.7,0.9")
    args = ap.parse_args()

    parsed = []
    for case in load_cases(args.cases):
        result = parse_text(case.text)
        mentions = tuple((m.id, m.state, m.span[0], m.span[1]) for m in result.evidence)
        parsed.append(Parsed(case, dict(result.final_evidence()), mentions))
    number = {p.case.id: int(p.case.id.rsplit("-", 1)[1]) for p in parsed}
    train = [p for p in parsed if number[p.case.id] <= args.train_max]
    test = [p for p in parsed if number[p.case.id] > args.train_max]
    print(f"train: {len(train)} texts, test: {len(test)} texts\n")
    print("| reader | threshold | precision | recall | F1 | tp | fp | fn | polarity errors |")
    print("|---|---|---|---|---|---|---|---|---|")

    def row(name: str, threshold: str, s: Score) -> None:
        print(
            f"| {name} | {threshold} | {s.precision:.3f} | {s.recall:.3f} | **{s.f1:.3f}** | "
            f"{s.tp} | {s.fp} | {s.fn} | {s.polarity_errors} of {s.negated} |"
        )

    row("rules", "-", score(test, lambda p: p.rules))
    for name, build in (("rules + text", text_level), ("rules + sentence", sentence_level)):
        learned = build(train, test, args.min_examples)
        for threshold in (float(t) for t in args.thresholds.split(",")):

            def hybrid(p: Parsed, t: float = threshold, learned: Any = learned) -> Pairs:
                extra = learned(p, t)
                return p.rules | {i: s for i, s in extra.items() if i not in p.rules}

            row(name, f"{threshold:g}", score(test, hybrid))


if __name__ == "__main__":
    main()
