"""Triage: deterministic, conservative, on top of the probabilities.

Red-flag rules and probability rules come from ``triage.toml``; the highest level that fires
wins and every level carries its reasons. Only when nothing fires, and the leading cause is one
that can be self-managed with every other cause unlikely, does the level drop to ``self_care``.
"""

from __future__ import annotations

from .context import Context, holds
from .result import Level, Reason, TriageResult

__all__ = ["LEVELS", "decide", "more_urgent"]

# Most urgent first; the names are those of the leading symptom-checker APIs.
LEVELS = ("emergency_ambulance", "emergency", "consultation_24", "consultation", "self_care")
_RANK = {level: i for i, level in enumerate(LEVELS)}


def more_urgent(a: str, b: str) -> bool:
    """True when level *a* is more urgent than level *b*."""
    return _RANK[a] < _RANK[b]


def decide(ctx: Context) -> TriageResult:
    rules = ctx.kb.triage
    fired: list[tuple[Level, Reason]] = []
    for flag in rules.red_flags:
        if holds(flag.when, ctx):
            fired.append(
                (
                    flag.level,
                    Reason(
                        text=flag.reason,
                        sources=list(flag.sources),
                        rule=flag.id,
                        action=flag.action,
                    ),
                )
            )
    for rule in rules.probability_rules:
        p = ctx.probability(rule.cause)
        if p >= rule.min_probability.value:
            sources = list(dict.fromkeys((*rule.sources, *rule.min_probability.sources)))
            fired.append(
                (
                    rule.level,
                    Reason(
                        text=f"{rule.reason} (probability {p:.0%})", sources=sources, rule=rule.id
                    ),
                )
            )
    if not fired:
        fired.append(_baseline(ctx))
    fired.sort(key=lambda lr: _RANK[lr[0]])
    level = fired[0][0]
    reasons: list[Reason] = []
    seen: set[str] = set()
    for _, reason in fired:
        if reason.text not in seen:
            seen.add(reason.text)
            reasons.append(reason)
    return TriageResult(level=level, reasons=reasons)


def _baseline(ctx: Context) -> tuple[Level, Reason]:
    sc = ctx.kb.triage.self_care
    allowed = set(sc.causes)
    others = [ctx.probability(c) for c in ctx.net.cause_ids if c not in allowed]
    self_limiting = (
        ctx.top_cause in allowed
        and max(others, default=0.0) < sc.max_other_probability.value
        and (sc.when is None or holds(sc.when, ctx))
    )
    sources = list(dict.fromkeys((*sc.sources, *sc.max_other_probability.sources)))
    if self_limiting:
        name = ctx.kb.cause_by_id[ctx.top_cause].name
        return "self_care", Reason(
            text=f"{sc.reason} Most likely: {name}.", sources=sources, rule="self_care"
        )
    return sc.default_level, Reason(
        text="No red flag, but a treatable cause has not been ruled out: see a clinician.",
        sources=sources,
        rule="default",
    )
