"""Evaluate the text parser against annotated descriptions (``tests/nlp_cases/*.yaml``).

Each file holds one description with its source and gold evidence::

    id: nlp-001
    split: dev            # dev (used while writing the lexicon) or test (held out)
    style: patient        # patient or clinician
    source: "Author, Journal year; URL"
    text: "My calves lock up at night, no swelling ..."
    gold:
      age: 67
      sex: female
      evidence: {nocturnal_leg_cramps: present, unilateral_calf_swelling: absent}
      medications: [{name: omeprazole, years: 5}]
      labs: [{test: b12_total, value: 150, unit: pg/mL}]

Scores: precision, recall and F1 over (id, state) pairs, per id and overall (micro); negation
accuracy over gold ``absent`` pairs; medications (name, years), labs (test, value, unit), age
and sex exact-match accuracy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError
from ..kb import KnowledgeBase
from .lexicon import Lexicon

__all__ = ["GoldCase", "NlpReport", "evaluate_cases", "load_cases"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoldMedication(_M):
    name: str
    years: float | None = None


class GoldLab(_M):
    test: str
    value: float
    unit: str | None = None


class Gold(_M):
    age: float | None = None
    sex: Literal["female", "male"] | None = None
    evidence: dict[str, Literal["present", "absent"]] = Field(default_factory=dict)
    medications: tuple[GoldMedication, ...] = ()
    labs: tuple[GoldLab, ...] = ()


class GoldCase(_M):
    id: str
    split: Literal["dev", "test"] = "dev"
    style: Literal["patient", "clinician"] = "patient"
    source: str = Field(min_length=10)
    text: str = Field(min_length=1)
    gold: Gold


class Score(_M):
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


class CaseError(_M):
    case: str
    kind: str  # "fp", "fn", "negation"
    item: str


class NlpReport(_M):
    cases: int
    overall: Score
    per_id: dict[str, Score]
    negated_gold: int
    negated_correct: int
    negation_errors: int  # polarity flips: gold absent read present, or gold present read absent
    medications: Score
    labs: Score
    age_correct: int
    age_total: int
    sex_correct: int
    sex_total: int
    errors: tuple[CaseError, ...] = ()

    @property
    def negation_accuracy(self) -> float:
        return self.negated_correct / self.negated_gold if self.negated_gold else 1.0

    @property
    def negation_error_rate(self) -> float:
        return self.negation_errors / self.negated_gold if self.negated_gold else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "precision": round(self.overall.precision, 4),
            "recall": round(self.overall.recall, 4),
            "f1": round(self.overall.f1, 4),
            "negated_mentions": self.negated_gold,
            "negation_accuracy": round(self.negation_accuracy, 4),
            "negation_errors": self.negation_errors,
            "negation_error_rate": round(self.negation_error_rate, 4),
            "medications_f1": round(self.medications.f1, 4),
            "labs_f1": round(self.labs.f1, 4),
            "age_accuracy": f"{self.age_correct}/{self.age_total}",
            "sex_accuracy": f"{self.sex_correct}/{self.sex_total}",
        }


def load_cases(directory: str | Path) -> list[GoldCase]:
    """Every ``*.yaml`` case in *directory*, validated, sorted by file name."""
    import yaml

    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory of NLP cases (*.yaml)")
    cases = []
    for path in sorted(root.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            cases.append(GoldCase.model_validate(data))
        except (yaml.YAMLError, ValidationError) as exc:
            raise InputError(f"{path.name}: {exc}") from None
    if not cases:
        raise InputError(f"no *.yaml NLP cases in {root}")
    return cases


def _unit_key(unit: str | None) -> str | None:
    return unit.casefold() if unit else unit


def _score(pred: Iterable[Any], gold: Iterable[Any]) -> tuple[int, int, int, set[Any], set[Any]]:
    p, g = set(pred), set(gold)
    return len(p & g), len(p - g), len(g - p), p - g, g - p


def evaluate_cases(
    cases: Sequence[GoldCase],
    *,
    kb: KnowledgeBase | None = None,
    lexicon: Lexicon | None = None,
    split: str | None = None,
) -> NlpReport:
    """Parse every case and score it against its gold annotation."""
    from . import parse_text

    selected = [c for c in cases if split is None or c.split == split]
    per: dict[str, Counter[str]] = {}
    total: Counter[str] = Counter()
    meds: Counter[str] = Counter()
    labs: Counter[str] = Counter()
    neg_gold = neg_ok = neg_err = 0
    age_ok = age_n = sex_ok = sex_n = 0
    errors: list[CaseError] = []
    for case in selected:
        result = parse_text(case.text, kb=kb, lexicon=lexicon)
        pred = result.final_evidence()
        gold = case.gold.evidence
        tp, fp, fn, fps, fns = _score(pred.items(), gold.items())
        total.update(tp=tp, fp=fp, fn=fn)
        for ident, state in pred.items():
            c = per.setdefault(ident, Counter())
            c["tp" if gold.get(ident) == state else "fp"] += 1
        for ident, state in gold.items():
            c = per.setdefault(ident, Counter())
            if pred.get(ident) != state:
                c["fn"] += 1
            if state == "absent":
                neg_gold += 1
                if pred.get(ident) == "absent":
                    neg_ok += 1
                elif pred.get(ident) == "present":
                    neg_err += 1
                    errors.append(
                        CaseError(case=case.id, kind="negation", item=f"{ident} read present")
                    )
            elif pred.get(ident) == "absent":
                neg_err += 1
                errors.append(CaseError(case=case.id, kind="negation", item=f"{ident} read absent"))
        errors += [CaseError(case=case.id, kind="fp", item=f"{i}={s}") for i, s in sorted(fps)]
        errors += [CaseError(case=case.id, kind="fn", item=f"{i}={s}") for i, s in sorted(fns)]

        data = result.case_data()
        pm = {(m.get("name") or m.get("drug_class"), m.get("years")) for m in data["medications"]}
        gm = {(m.name, m.years) for m in case.gold.medications}
        tp, fp, fn, fps, fns = _score(pm, gm)
        meds.update(tp=tp, fp=fp, fn=fn)
        errors += [
            CaseError(case=case.id, kind="med-fp", item=str(x)) for x in sorted(fps, key=str)
        ]
        errors += [
            CaseError(case=case.id, kind="med-fn", item=str(x)) for x in sorted(fns, key=str)
        ]
        # "mmol/l" and "mmol/L" are one unit (litre is l or L in UCUM): compare units caselessly
        pl = {(lab.test, lab.value, _unit_key(lab.unit)) for lab in result.labs}
        gl = {(lab.test, lab.value, _unit_key(lab.unit)) for lab in case.gold.labs}
        tp, fp, fn, fps, fns = _score(pl, gl)
        labs.update(tp=tp, fp=fp, fn=fn)
        errors += [
            CaseError(case=case.id, kind="lab-fp", item=str(x)) for x in sorted(fps, key=str)
        ]
        errors += [
            CaseError(case=case.id, kind="lab-fn", item=str(x)) for x in sorted(fns, key=str)
        ]
        if case.gold.age is not None or result.age is not None:
            age_n += 1
            age_ok += int(case.gold.age == result.age)
            if case.gold.age != result.age:
                errors.append(
                    CaseError(case=case.id, kind="age", item=f"{result.age} != {case.gold.age}")
                )
        if case.gold.sex is not None or result.sex is not None:
            sex_n += 1
            sex_ok += int(case.gold.sex == result.sex)
            if case.gold.sex != result.sex:
                errors.append(
                    CaseError(case=case.id, kind="sex", item=f"{result.sex} != {case.gold.sex}")
                )

    def sc(c: Counter[str]) -> Score:
        return Score(tp=c["tp"], fp=c["fp"], fn=c["fn"])

    return NlpReport(
        cases=len(selected),
        overall=sc(total),
        per_id={k: sc(v) for k, v in sorted(per.items())},
        negated_gold=neg_gold,
        negated_correct=neg_ok,
        negation_errors=neg_err,
        medications=sc(meds),
        labs=sc(labs),
        age_correct=age_ok,
        age_total=age_n,
        sex_correct=sex_ok,
        sex_total=sex_n,
        errors=tuple(errors),
    )
