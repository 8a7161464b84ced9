"""Clinical validation: run ``assess()`` over a folder of published vignettes and score it.

A vignette is a YAML (or JSON) file with four keys::

    source:   {authors, title, journal, year, doi_or_url}   # where the facts come from
    summary:  the facts in the vignette author's own words
    expected: {top_cause, acceptable: [...], triage, triage_justification}
    case:     a b12dx/case/v1 Case

``evaluate(vignettes)`` returns an ``EvaluationReport`` with top-1 and top-3 accuracy, exact
triage agreement, under- and over-triage, a per-cause confusion table, a reliability table of
predicted probability against observed frequency, and every failing case with its reason.
``report.gate(min_top3=...)`` says whether the CI gates pass. Nothing here holds a clinical
number: expectations live in the vignette files, probabilities come from the knowledge base.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import B12dxError, InputError
from .kb import KnowledgeBase

__all__ = [
    "LEVELS",
    "CaseOutcome",
    "EvaluationReport",
    "Expected",
    "GateResult",
    "ReliabilityBin",
    "Vignette",
    "VignetteSource",
    "evaluate",
    "load_vignette",
    "load_vignettes",
    "render_markdown",
]

Level = Literal["emergency_ambulance", "emergency", "consultation_24", "consultation", "self_care"]
# Most urgent first; a level's rank is its urgency (higher = more urgent).
LEVELS: tuple[Level, ...] = (
    "emergency_ambulance",
    "emergency",
    "consultation_24",
    "consultation",
    "self_care",
)
_RANK = {lvl: len(LEVELS) - i for i, lvl in enumerate(LEVELS)}
EMERGENCY_LEVELS = frozenset({"emergency_ambulance", "emergency"})
_TOP_K = 3


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VignetteSource(_Model):
    authors: str = Field(min_length=1)
    title: str = Field(min_length=1)
    journal: str = Field(min_length=1)
    year: int | None = None
    doi_or_url: str = Field(min_length=8)


class Expected(_Model):
    top_cause: str = Field(min_length=1)
    acceptable: tuple[str, ...] = ()
    triage: Level
    triage_justification: str = Field(min_length=1)

    @property
    def accepted(self) -> frozenset[str]:
        return frozenset((self.top_cause, *self.acceptable))


class Vignette(_Model):
    """One published case: its source, the facts, and what a correct answer looks like."""

    source: VignetteSource
    summary: str = Field(min_length=1)
    expected: Expected
    case: dict[str, Any]
    path: str = ""  # filled by the loader

    @property
    def name(self) -> str:
        return Path(self.path).stem if self.path else str(self.case.get("id") or "vignette")


def load_vignette(path: str | Path) -> Vignette:
    """Read one vignette file; an unreadable or malformed file raises ``InputError``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror}") from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError does not derive from ValueError
        raise InputError(f"{p} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: a vignette must be a mapping with source, summary, expected, case")
    try:
        return Vignette.model_validate({**data, "path": str(p)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'vignette'}: {e['msg']}" for e in exc.errors()
        )
        raise InputError(f"{p}: {problems}") from None


def load_vignettes(directory: str | Path) -> list[Vignette]:
    """Every ``*.yaml``, ``*.yml`` and ``*.json`` vignette in *directory*, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d} is not a folder of vignettes")
    files = sorted(f for f in d.iterdir() if f.suffix.lower() in (".yaml", ".yml", ".json"))
    if not files:
        raise InputError(f"{d} holds no vignette files (*.yaml, *.yml, *.json)")
    return [load_vignette(f) for f in files]


class CaseOutcome(_Model):
    """What ``assess()`` said about one vignette, and how that compares with the source."""

    name: str
    expected_top: str
    accepted: tuple[str, ...]
    expected_triage: Level
    predicted_top: str | None = None
    ranking: tuple[tuple[str, float], ...] = ()  # (cause, probability), most probable first
    rank_of_expected: int | None = None  # 1-based rank of the best accepted cause
    assessed_triage: Level | None = None
    top1: bool = False
    top1_strict: bool = False
    top3: bool = False
    triage_exact: bool = False
    under_triage: bool = False
    over_triage: bool = False
    error: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


class ReliabilityBin(_Model):
    """Predicted probability against observed frequency for (case, cause) pairs in one bin."""

    lower: float
    upper: float
    n: int
    mean_predicted: float | None
    observed: float | None


class GateResult(_Model):
    passed: bool
    reasons: tuple[str, ...]


class EvaluationReport(_Model):
    n_cases: int
    n_assessed: int
    errors: int
    top1: int
    top1_strict: int
    top3: int
    triage_exact: int
    under_triage: int
    over_triage: int
    emergency_expected: int
    emergency_under_triaged: tuple[str, ...]
    confusion: dict[str, dict[str, int]]  # expected top cause -> predicted top cause -> count
    reliability: tuple[ReliabilityBin, ...]
    brier: float | None  # mean over (case, cause) pairs of (p - y)^2
    outcomes: tuple[CaseOutcome, ...]
    kb_version: str
    kb_sha256: str

    def rate(self, count: int) -> float:
        return count / self.n_cases if self.n_cases else 0.0

    @property
    def failures(self) -> list[CaseOutcome]:
        return [o for o in self.outcomes if o.failed]

    def gate(self, *, min_top3: float) -> GateResult:
        """CI gates: top-3 at least *min_top3*, no expected-emergency case under-triaged,
        and every vignette assessable."""
        reasons = []
        if self.rate(self.top3) < min_top3:
            reasons.append(f"top-3 accuracy {self.rate(self.top3):.1%} is below {min_top3:.1%}")
        if self.emergency_under_triaged:
            reasons.append(
                "expected-emergency cases under-triaged: " + ", ".join(self.emergency_under_triaged)
            )
        if self.errors:
            reasons.append(f"{self.errors} vignette(s) could not be assessed")
        return GateResult(passed=not reasons, reasons=tuple(reasons))

    def to_json(self, *, min_top3: float | None = None) -> str:
        data = self.model_dump(mode="json")
        data["rates"] = {
            k: self.rate(getattr(self, k))
            for k in ("top1", "top1_strict", "top3", "triage_exact", "under_triage", "over_triage")
        }
        if min_top3 is not None:
            data["gate"] = self.gate(min_top3=min_top3).model_dump(mode="json")
        return json.dumps(data, indent=2, ensure_ascii=False)


def _score(v: Vignette, kb: KnowledgeBase) -> tuple[CaseOutcome, list[tuple[float, int]]]:
    """One vignette's outcome and its (probability, outcome) pairs for calibration."""
    from .assessment import assess

    exp = v.expected
    base = dict(
        name=v.name,
        expected_top=exp.top_cause,
        accepted=tuple(sorted(exp.accepted)),
        expected_triage=exp.triage,
    )
    try:
        result = assess(v.case, kb=kb)
    except B12dxError as exc:
        msg = f"could not be assessed: {exc}"
        return CaseOutcome(**base, error=str(exc), reasons=(msg,)), []
    ranking = tuple((c.id, round(c.probability, 6)) for c in result.differential)
    ids = [c for c, _ in ranking]
    ranks = [ids.index(c) + 1 for c in exp.accepted if c in ids]
    best = min(ranks) if ranks else None
    predicted = ids[0] if ids else None
    level = result.triage.level
    top1 = predicted in exp.accepted
    top3 = best is not None and best <= _TOP_K
    under = _RANK[level] < _RANK[exp.triage]
    over = _RANK[level] > _RANK[exp.triage]
    reasons = []
    prob = dict(ranking)
    if not top1:
        where = (
            f"expected {exp.top_cause} ranked {best} (p={prob.get(exp.top_cause, 0.0):.3f})"
            if best is not None
            else f"no accepted cause ({', '.join(sorted(exp.accepted))}) has a non-zero prior"
        )
        reasons.append(f"top cause {predicted} (p={prob.get(predicted or '', 0.0):.3f}); {where}")
    if under:
        reasons.append(f"under-triage: assessed {level}, expected {exp.triage}")
    elif over:
        reasons.append(f"over-triage: assessed {level}, expected {exp.triage}")
    pairs = [(prob.get(cid, 0.0), int(cid in exp.accepted)) for cid in kb.cause_by_id]
    return CaseOutcome(
        **base,
        predicted_top=predicted,
        ranking=ranking,
        rank_of_expected=best,
        assessed_triage=level,
        top1=top1,
        top1_strict=predicted == exp.top_cause,
        top3=top3,
        triage_exact=level == exp.triage,
        under_triage=under,
        over_triage=over,
        reasons=tuple(reasons),
    ), pairs


def _reliability(pairs: Sequence[tuple[float, int]], bins: int) -> tuple[ReliabilityBin, ...]:
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, y) for p, y in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        n = len(inside)
        out.append(
            ReliabilityBin(
                lower=lo,
                upper=hi,
                n=n,
                mean_predicted=sum(p for p, _ in inside) / n if n else None,
                observed=sum(y for _, y in inside) / n if n else None,
            )
        )
    return tuple(out)


def evaluate(
    vignettes: Iterable[Vignette], *, kb: KnowledgeBase | None = None, bins: int = 10
) -> EvaluationReport:
    """Assess every vignette and score the answers against the published diagnoses."""
    from .kb import load_kb

    kb = kb or load_kb()
    outcomes: list[CaseOutcome] = []
    pairs: list[tuple[float, int]] = []
    confusion: dict[str, Counter[str]] = {}
    for v in vignettes:
        outcome, case_pairs = _score(v, kb)
        outcomes.append(outcome)
        pairs.extend(case_pairs)
        predicted = outcome.predicted_top or "(error)"
        confusion.setdefault(outcome.expected_top, Counter())[predicted] += 1
    assessed = [o for o in outcomes if o.error is None]
    emergency = [o for o in outcomes if o.expected_triage in EMERGENCY_LEVELS]
    return EvaluationReport(
        n_cases=len(outcomes),
        n_assessed=len(assessed),
        errors=len(outcomes) - len(assessed),
        top1=sum(o.top1 for o in outcomes),
        top1_strict=sum(o.top1_strict for o in outcomes),
        top3=sum(o.top3 for o in outcomes),
        triage_exact=sum(o.triage_exact for o in outcomes),
        under_triage=sum(o.under_triage for o in outcomes),
        over_triage=sum(o.over_triage for o in outcomes),
        emergency_expected=len(emergency),
        emergency_under_triaged=tuple(
            o.name for o in emergency if o.under_triage or o.error is not None
        ),
        confusion={k: dict(sorted(c.items())) for k, c in sorted(confusion.items())},
        reliability=_reliability(pairs, bins),
        brier=sum((p - y) ** 2 for p, y in pairs) / len(pairs) if pairs else None,
        outcomes=tuple(outcomes),
        kb_version=kb.meta.version,
        kb_sha256=kb.sha256,
    )


def _pct(report: EvaluationReport, count: int) -> str:
    return f"{count}/{report.n_cases} ({report.rate(count):.1%})"


def render_markdown(report: EvaluationReport, *, min_top3: float | None = None) -> str:
    """The report as Markdown: summary, gate, failures, confusion and reliability tables."""
    r = report
    lines = [
        "# b12dx clinical validation",
        "",
        f"Knowledge base {r.kb_version} (sha256 {r.kb_sha256[:12]}), {r.n_cases} vignettes, "
        f"{r.errors} not assessable.",
        "",
        "| measure | result |",
        "|---|---|",
        f"| top-1 (expected or acceptable cause ranked first) | {_pct(r, r.top1)} |",
        f"| top-1, expected cause only | {_pct(r, r.top1_strict)} |",
        f"| top-3 | {_pct(r, r.top3)} |",
        f"| triage exact agreement | {_pct(r, r.triage_exact)} |",
        f"| under-triage (assessed less urgent than expected) | {_pct(r, r.under_triage)} |",
        f"| over-triage (assessed more urgent than expected) | {_pct(r, r.over_triage)} |",
        f"| expected-emergency cases under-triaged | {len(r.emergency_under_triaged)}/"
        f"{r.emergency_expected} |",
        f"| Brier score over (case, cause) pairs | "
        f"{'n/a' if r.brier is None else f'{r.brier:.4f}'} |",
    ]
    if min_top3 is not None:
        g = r.gate(min_top3=min_top3)
        lines += [
            "",
            f"**CI gate: {'PASS' if g.passed else 'FAIL'}**"
            + ("" if g.passed else " — " + "; ".join(g.reasons)),
        ]
    lines += ["", "## Failing cases", ""]
    if r.failures:
        lines += ["| case | expected | assessed | reason |", "|---|---|---|---|"]
        for o in r.failures:
            lines.append(
                f"| {o.name} | {o.expected_top} / {o.expected_triage} | "
                f"{o.predicted_top or '-'} / {o.assessed_triage or '-'} | "
                f"{'; '.join(o.reasons)} |"
            )
    else:
        lines.append("None.")
    lines += [
        "",
        "## Confusion (expected top cause → assessed top cause)",
        "",
        "| expected | n | top-1 (incl. acceptable) | assessed top cause |",
        "|---|---|---|---|",
    ]
    for exp, row in r.confusion.items():
        n = sum(row.values())
        right = sum(o.top1 for o in r.outcomes if o.expected_top == exp)
        shown = ", ".join(f"{k} {v}" for k, v in sorted(row.items(), key=lambda kv: -kv[1]))
        lines.append(f"| {exp} | {n} | {right} | {shown} |")
    lines += [
        "",
        "## Reliability (all case × cause pairs)",
        "",
        "| predicted | n | mean predicted | observed |",
        "|---|---|---|---|",
    ]
    for b in r.reliability:
        mp = "-" if b.mean_predicted is None else f"{b.mean_predicted:.3f}"
        ob = "-" if b.observed is None else f"{b.observed:.3f}"
        lines.append(f"| {b.lower:.1f}–{b.upper:.1f} | {b.n} | {mp} | {ob} |")
    return "\n".join(lines) + "\n"
