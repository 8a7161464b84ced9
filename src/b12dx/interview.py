"""The adaptive interview: which question to ask next, and when to stop.

Stateless (as the leading symptom-checker APIs are): the caller sends the case so far and the ids
of the questions already answered or skipped, and gets back the next question, why it is asked,
the current differential and triage, and ``should_stop``. The API (``POST /v1/interview``) and
the terminal (``b12dx interview``) share this module.

Order of questions:

1. **Red-flag screening** first: every red-flag finding with a question, most urgent rule
   first. Screening is never cut short by the question limit.
2. Then the question with the highest **expected information gain** over the differential,
   measured as the sum of the causes' binary entropies (as ``plan.py`` does for tests). For a
   symptom, the answer probabilities come from the model; for a risk factor (which shifts the
   priors instead), from ``risk_factor_yes_probability``. The gain is the Jensen gap
   ``H(sum_k w_k post_k) - sum_k w_k H(post_k)`` over the two answers, which is the usual
   ``H(now) - E[H(after)]`` for symptoms. Every candidate is scored in one batched engine call.

Stop rule (numbers in ``knowledge/interview.toml``, each with its source): an emergency level
was reached, the top cause is confident enough, no question is informative enough, or the
maximum number of questions was asked.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np

from .assessment import assess_with_context
from .case import Case, canonical_id, parse_case
from .context import Context
from .engine import FloatArray, logit
from .kb import KnowledgeBase, Num, load_kb
from .plan import entropy
from .priors import person_prior
from .result import TriageResult
from .triage import LEVELS
from .variants import Variant

__all__ = [
    "AnswerOption",
    "CauseSummary",
    "InterviewRequest",
    "InterviewSettings",
    "InterviewStep",
    "Question",
    "interview_settings",
    "next_step",
]

from pydantic import BaseModel, ConfigDict, Field

StopReason = Literal[
    "urgent", "confident", "nothing_informative", "max_questions", "no_questions_left"
]
_URGENT = {"emergency_ambulance", "emergency"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _LocalSource(_Model):
    id: str
    title: str
    url: str


class InterviewSettings(_Model):
    """The stop-rule numbers (``knowledge/interview.toml``)."""

    confident_probability: Num
    min_information_gain: Num
    max_questions: Num
    risk_factor_yes_probability: Num
    source: tuple[_LocalSource, ...] = ()


@lru_cache(maxsize=1)
def interview_settings() -> InterviewSettings:
    raw = resources.files("b12dx.knowledge").joinpath("interview.toml").read_text("utf-8")
    return InterviewSettings.model_validate(tomllib.loads(raw))


class InterviewRequest(BaseModel):
    """The case so far and the questions already asked."""

    model_config = ConfigDict(extra="forbid")

    case: Case
    answered: list[str] = Field(
        default_factory=list,
        max_length=500,
        description="Question ids answered (their answers are in case.evidence)",
    )
    skipped: list[str] = Field(
        default_factory=list,
        max_length=500,
        description="Question ids the person chose not to answer",
    )
    max_questions: int | None = Field(
        default=None, ge=1, le=200, description="Override the KB's maximum"
    )


class AnswerOption(_Model):
    value: Literal["present", "absent", "unknown"]
    label: str


class Question(_Model):
    id: str = Field(description="The evidence id; answer with {id, state} in case.evidence")
    kind: Literal["red_flag", "finding", "risk_factor"]
    text: str
    options: list[AnswerOption]
    rationale: str
    expected_information_gain: float | None = None
    sources: list[str] = Field(default_factory=list)


class CauseSummary(_Model):
    id: str
    name: str
    lay_name: str
    probability: float


class InterviewStep(_Model):
    """The interview's answer: the next question (or none) and the picture so far."""

    question: Question | None
    should_stop: bool
    stop_reason: StopReason | None
    questions_asked: int
    differential: list[CauseSummary]
    triage: TriageResult
    disclaimer: str


_OPTIONS = [
    AnswerOption(value="present", label="Yes"),
    AnswerOption(value="absent", label="No"),
    AnswerOption(value="unknown", label="I don't know"),
]


def _red_flag_order(kb: KnowledgeBase) -> list[tuple[str, str, list[str]]]:
    """Red-flag findings with a question: (id, reason of its most urgent rule, sources)."""
    rank = {level: i for i, level in enumerate(LEVELS)}
    best: dict[str, tuple[int, str, list[str]]] = {}
    for flag in kb.triage.red_flags:
        for ident in (*flag.when.all_of, *flag.when.any_of):
            cand = (rank[flag.level], flag.reason, list(flag.sources))
            if ident not in best or cand[0] < best[ident][0]:
                best[ident] = cand
    order = []
    for i, f in enumerate(kb.findings):
        if f.kind == "red_flag" and f.question:
            r, reason, sources = best.get(f.id, (len(LEVELS), "", []))
            order.append((r, i, f.id, reason, sources))
    order.sort()
    return [(ident, reason, sources) for _, _, ident, reason, sources in order]


def _candidates(kb: KnowledgeBase, asked: set[str]) -> list[tuple[str, str]]:
    out = [
        (f.id, "finding")
        for f in kb.findings
        if f.kind not in ("lab", "red_flag") and f.question and f.id not in asked
    ]
    out += [(r.id, "risk_factor") for r in kb.risk_factors if r.question and r.id not in asked]
    return out


def _score(
    ctx: Context, candidates: list[tuple[str, str]], p_yes_rf: float
) -> list[tuple[float, FloatArray, FloatArray, float]]:
    """(EIG, posterior if yes, posterior if no, P(yes)) per candidate, one batched call."""
    net = ctx.net
    kb = ctx.kb
    variants: list[Variant] = [Variant()]
    for ident, kind in candidates:
        if kind == "finding":
            i = net.finding_index[ident]
            variants += [Variant(add_pos=(i,)), Variant(add_neg=(i,))]
        else:
            prior, _, _ = person_prior(
                kb,
                net,
                age=ctx.case.age,
                sex=ctx.case.sex,
                pregnant=ctx.case.pregnant,
                present=set(ctx.present) | {ident},
                drug_years=ctx.drug_years,
            )
            # odds ratios shift logits: a cause with prior 0 stays at 0
            moved = np.flatnonzero((prior != ctx.prior) & (ctx.prior > 0))
            shift = logit(prior[moved]) - logit(ctx.prior[moved])
            variants.append(Variant(shift=tuple(zip(moved.tolist(), shift.tolist(), strict=True))))
    post, log_z = ctx.what_if(variants)
    out = []
    r = 1
    for _, kind in candidates:
        if kind == "finding":
            post_yes, post_no = post[r], post[r + 1]
            w = np.exp(log_z[r : r + 2] - log_z[0])
            w = w / w.sum() if w.sum() > 0 else np.array([0.5, 0.5])
            p_yes = float(w[0])
            r += 2
        else:
            post_yes, post_no = post[r], ctx.posterior
            p_yes = p_yes_rf
            r += 1
        mix = p_yes * post_yes + (1 - p_yes) * post_no
        gain = float(entropy(mix)) - (
            p_yes * float(entropy(post_yes)) + (1 - p_yes) * float(entropy(post_no))
        )
        out.append((max(0.0, gain), post_yes, post_no, p_yes))
    return out


def _rationale(
    ctx: Context, post_yes: FloatArray, post_no: FloatArray, kind: str, gain: float
) -> str:
    kb = ctx.kb
    now = ctx.posterior
    j = int(np.argmax(np.abs(post_yes - post_no)))
    cause = kb.cause_by_id[ctx.net.cause_ids[j]]
    if kind == "risk_factor":
        text = (
            f"A 'yes' would change the chance of {cause.lay_name} from {now[j]:.0%} to "
            f"{post_yes[j]:.0%}."
        )
    else:
        text = (
            f"If yes, the chance of {cause.lay_name} would go from {now[j]:.0%} to "
            f"{post_yes[j]:.0%}; if no, to {post_no[j]:.0%}."
        )
    return f"{text} This is the most informative question left ({gain:.2f} bits expected)."


def _ids(kb: KnowledgeBase, values: Iterable[str]) -> set[str]:
    out = set()
    for v in values:
        ident = canonical_id(v)
        out.add(kb.alias_map.get(ident, ident))
    return out


def next_step(
    case: Case | Mapping[str, Any],
    *,
    answered: Iterable[str] = (),
    skipped: Iterable[str] = (),
    kb: KnowledgeBase | None = None,
    max_questions: int | None = None,
) -> InterviewStep:
    """The next question for *case* (or none, with the reason to stop)."""
    kb = kb if kb is not None else load_kb()
    cfg = interview_settings()
    parsed = case if isinstance(case, Case) else parse_case(case)
    assessment, ctx = assess_with_context(parsed, kb=kb)
    norm = ctx.case
    answered_ids = _ids(kb, answered)
    skipped_ids = _ids(kb, skipped)
    interviewed = {e.id for e in norm.evidence if e.source == "interview"}
    asked = answered_ids | skipped_ids | {e.id for e in norm.evidence}
    n_asked = len(answered_ids | skipped_ids | interviewed)
    limit = max_questions if max_questions is not None else int(cfg.max_questions.value)

    def step(question: Question | None, reason: StopReason | None) -> InterviewStep:
        return InterviewStep(
            question=question,
            should_stop=question is None,
            stop_reason=reason,
            questions_asked=n_asked,
            differential=[
                CauseSummary(id=c.id, name=c.name, lay_name=c.lay_name, probability=c.probability)
                for c in assessment.differential
            ],
            triage=assessment.triage,
            disclaimer=kb.meta.lay_disclaimer,
        )

    if assessment.triage.level in _URGENT:
        return step(None, "urgent")
    for ident, reason, sources in _red_flag_order(kb):
        if ident in asked:
            continue
        f = kb.finding_by_id[ident]
        why = "Asked first, to rule out a warning sign that needs urgent care"
        why += f": {reason}" if reason else "."
        return step(
            Question(
                id=ident,
                kind="red_flag",
                text=f.question or f.lay_name,
                options=_OPTIONS,
                rationale=why,
                sources=sources,
            ),
            None,
        )
    if float(np.max(ctx.posterior)) >= cfg.confident_probability.value:
        return step(None, "confident")
    # the limit counts questions after red-flag screening (interview.toml: max_questions)
    screening = {ident for ident, _, _ in _red_flag_order(kb)}
    if len((answered_ids | skipped_ids | interviewed) - screening) >= limit:
        return step(None, "max_questions")
    candidates = _candidates(kb, asked)
    if not candidates:
        return step(None, "no_questions_left")
    scores = _score(ctx, candidates, cfg.risk_factor_yes_probability.value)
    best = max(range(len(candidates)), key=lambda k: (scores[k][0], -k))
    gain, post_yes, post_no, _ = scores[best]
    if gain < cfg.min_information_gain.value:
        return step(None, "nothing_informative")
    ident, kind = candidates[best]
    item = kb.finding_by_id.get(ident) if kind == "finding" else kb.risk_factor_by_id[ident]
    assert item is not None and item.question is not None
    sources = list(cfg.min_information_gain.sources)
    return step(
        Question(
            id=ident,
            kind="finding" if kind == "finding" else "risk_factor",
            text=item.question,
            options=_OPTIONS,
            rationale=_rationale(ctx, post_yes, post_no, kind, gain),
            expected_information_gain=round(gain, 4),
            sources=sources,
        ),
        None,
    )
