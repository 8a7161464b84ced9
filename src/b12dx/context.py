"""What is known about a person once the case is normalised, and KB conditions over it.

``Context`` is built once per assessment and read by triage and the plan; ``holds()`` evaluates a
KB ``Condition`` against it (every non-empty part must hold).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .case import Case
from .engine import TOLERANCE, BoolArray, FloatArray, IntArray, Network
from .kb import Band, Condition, KnowledgeBase
from .labs import LabReading
from .variants import Variant, infer_variants

__all__ = ["Context", "Observation", "WhatIf", "holds", "observe"]


@dataclass(frozen=True)
class Observation:
    """Finding indices observed present and absent."""

    pos: tuple[int, ...]
    neg: tuple[int, ...]

    def without(self, pos: set[int], neg: set[int]) -> Observation:
        return Observation(
            tuple(i for i in self.pos if i not in pos), tuple(i for i in self.neg if i not in neg)
        )

    def plus(self, pos: tuple[int, ...], neg: tuple[int, ...]) -> Observation:
        return Observation(
            tuple(dict.fromkeys(self.pos + pos)), tuple(dict.fromkeys(self.neg + neg))
        )


def lab_findings(net: Network, reading: LabReading) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Findings a lab band sets present (its own finding and the milder thresholds it
    ``implies``) and absent (the test's other bands' findings)."""
    if reading.band is None:
        return (), ()
    return band_outcome(net, reading.test.bands, reading.band)


def band_outcome(
    net: Network, bands: Sequence[Band], band: Band
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """One band as an outcome of its test: the finding indices it sets present, and those of
    the other ``bands`` (the test's bands, or those that apply to the person) it sets absent.
    The one rule for turning a band into findings (``lab_findings``, plan and screen
    next-test variants)."""
    pos = [net.finding_index[f] for f in band.present()]
    neg: list[int] = []
    for b in bands:
        if b.finding is None:
            continue
        i = net.finding_index[b.finding]
        # a band may share its finding with another band (e.g. two sex-specific "low" bands)
        if i not in pos and i not in neg:
            neg.append(i)
    return tuple(pos), tuple(neg)


def result_outcomes(net: Network, bands: Sequence[Band]) -> list[tuple[int, ...]]:
    """The distinct observable outcomes of a test whose applicable bands are ``bands``, each as
    the finding indices it sets present (``Band.present``; () for a band with no finding), in
    band order. A next-test variant sets one outcome present and the rest of the outcomes'
    findings absent, as ``band_outcome`` does for a result."""
    seen: dict[tuple[int, ...], None] = {}
    for b in bands:
        seen.setdefault(tuple(net.finding_index[f] for f in b.present()), None)
    return list(seen)


def observe(case: Case, net: Network, readings: list[LabReading]) -> Observation:
    pos: list[int] = []
    neg: list[int] = []
    for e in case.evidence:
        i = net.finding_index.get(e.id)
        if i is None:  # a risk factor: it shifts priors, it is not a finding
            continue
        if e.state == "present":
            pos.append(i)
        elif e.state == "absent":
            neg.append(i)
    for r in readings:
        p, n = lab_findings(net, r)
        pos.extend(p)
        neg.extend(n)
    return Observation(tuple(dict.fromkeys(pos)), tuple(dict.fromkeys(neg)))


def encode(net: Network, observations: list[Observation]) -> tuple[IntArray, BoolArray]:
    """Batch arrays for ``engine.infer``."""
    k = max((len(o.pos) for o in observations), default=0)
    pos = np.full((len(observations), max(k, 1)), -1, dtype=np.int64)
    neg = np.zeros((len(observations), net.n_findings), dtype=np.bool_)
    for r, o in enumerate(observations):
        pos[r, : len(o.pos)] = o.pos
        neg[r, list(o.neg)] = True
    return pos, neg


@dataclass(frozen=True)
class WhatIf:
    """One request for ``infer_variants`` posteriors, with the accuracy its caller needs."""

    variants: tuple[Variant, ...]
    tolerance: float = TOLERANCE
    outcome_of: tuple[int, ...] | None = None
    exact_log_z: bool = True
    logit_tolerance: float | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = (self.variants, self.tolerance, self.outcome_of, self.exact_log_z)
        object.__setattr__(self, "_hash", hash((*key, self.logit_tolerance)))

    def __hash__(self) -> int:
        return self._hash


@dataclass
class Context:
    kb: KnowledgeBase
    net: Network
    case: Case
    readings: list[LabReading]
    present: frozenset[str]  # evidence ids present, drug classes taken included
    absent: frozenset[str]
    drug_years: Mapping[str, float | None]
    prior: FloatArray
    posterior: FloatArray
    observation: Observation
    tags: frozenset[str] = field(default=frozenset())
    # derived values that several parts of one assessment need, computed once
    memo: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    _what_if: dict[WhatIf, tuple[FloatArray, FloatArray]] = field(default_factory=dict, repr=False)

    def what_if(
        self,
        variants: Sequence[Variant],
        tolerance: float = TOLERANCE,
        *,
        outcome_of: Sequence[int] | None = None,
        exact_log_z: bool = True,
        logit_tolerance: float | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Posteriors ``(V, n)`` and log-likelihoods ``(V,)`` of variations of this person's
        evidence (``variants.infer_variants``), remembered for the rest of the assessment."""
        request = WhatIf(
            tuple(variants),
            tolerance,
            None if outcome_of is None else tuple(outcome_of),
            exact_log_z,
            logit_tolerance,
        )
        return self.fetch([request])[0]

    def fetch(self, requests: Sequence[WhatIf]) -> list[tuple[FloatArray, FloatArray]]:
        """``what_if`` for several requests at once: the ones not yet remembered share one
        engine call (one subset table), each keeping its own accuracy settings."""
        todo = [r for r in dict.fromkeys(requests) if r not in self._what_if]
        if todo:
            pos, neg = self.encoded
            flat = [v for r in todo for v in r.variants]
            groups: list[int] = []
            for r in todo:  # outcome groups stay within their request; others stand alone
                base = len(groups) and max(groups) + 1
                own = r.outcome_of or range(len(r.variants))
                groups += [base + g for g in own]
            post, log_z = infer_variants(
                self.net,
                self.prior[None, :],
                pos,
                neg,
                flat,
                tolerance=[r.tolerance for r in todo for _ in r.variants],
                outcome_of=groups,
                exact_log_z=[r.exact_log_z for r in todo for _ in r.variants],
                logit_tolerance=[r.logit_tolerance for r in todo for _ in r.variants],
            )
            at = 0
            for r in todo:
                end = at + len(r.variants)
                self._what_if[r] = (post[0, at:end], log_z[0, at:end])
                at = end
        return [self._what_if[r] for r in requests]

    def probability(self, cause: str) -> float:
        return float(self.posterior[self.net.cause_index[cause]])

    @functools.cached_property
    def encoded(self) -> tuple[IntArray, BoolArray]:
        """The person's observation as ``engine.infer`` batch arrays (one row)."""
        return encode(self.net, [self.observation])

    @functools.cached_property
    def top_cause(self) -> str:
        return self.net.cause_ids[int(np.argmax(self.posterior))]

    @functools.cached_property
    def bands(self) -> dict[str, str | None]:
        """The band of each test with a result (None: no guideline band applies)."""
        out: dict[str, str | None] = {}
        for r in self.readings:
            out.setdefault(r.test.id, r.band.id if r.band is not None else None)
        return out

    def band(self, test: str) -> str | None:
        return self.bands.get(test)

    def has_lab(self, test: str) -> bool:
        return test in self.bands


def holds(cond: Condition, ctx: Context) -> bool:
    """Whether every non-empty part of ``cond`` holds for ``ctx``."""
    got = _compiled.get(id(cond))
    if got is None or got[0] is not cond:
        if len(_compiled) > 4096:
            _compiled.clear()
        got = _compiled[id(cond)] = (cond, _joined(_compile(cond)))
    return got[1](ctx)


_Check = Callable[[Context], bool]
# each condition as one check, once (the KB's conditions are read a hundred times per
# assessment); the condition itself is kept so that its id cannot be reused while it is in here
_compiled: dict[int, tuple[Condition, _Check]] = {}


def _always(ctx: Context) -> bool:
    return True


def _joined(checks: tuple[_Check, ...]) -> _Check:
    """One check that holds when all of ``checks`` do, tried in order (nested ``and``: no
    generator per call)."""
    if not checks:
        return _always
    head, tail = checks[0], _joined(checks[1:]) if len(checks) > 1 else None
    if tail is None:
        return head
    return lambda ctx: head(ctx) and tail(ctx)


def _has_all(ids: frozenset[str], ctx: Context) -> bool:
    return ctx.present.issuperset(ids)


def _has_any(ids: frozenset[str], ctx: Context) -> bool:
    return not ctx.present.isdisjoint(ids)


def _has_none(ids: frozenset[str], ctx: Context) -> bool:
    return ctx.present.isdisjoint(ids)


def _tagged_any(tags: frozenset[str], ctx: Context) -> bool:
    return not ctx.tags.isdisjoint(tags)


def _tagged_all(tags: frozenset[str], ctx: Context) -> bool:
    return ctx.tags.issuperset(tags)


def _compile(cond: Condition) -> tuple[_Check, ...]:
    """The checks of the non-empty parts of ``cond``, cheapest first as they were written."""
    checks: list[_Check] = [
        functools.partial(test, frozenset(ids))
        for ids, test in (
            (cond.all_of, _has_all),
            (cond.any_of, _has_any),
            (cond.none_of, _has_none),
            (cond.tags_any, _tagged_any),
            (cond.tags_all, _tagged_all),
        )
        if ids
    ]
    if cond.labs_any:
        labs_any = tuple((lc.test, frozenset(lc.bands)) for lc in cond.labs_any)
        checks.append(lambda ctx: any(ctx.bands.get(t) in b for t, b in labs_any))
    if cond.labs_all:
        labs_all = tuple((lc.test, frozenset(lc.bands)) for lc in cond.labs_all)
        checks.append(lambda ctx: all(ctx.bands.get(t) in b for t, b in labs_all))
    if cond.labs_missing:
        missing = frozenset(cond.labs_missing)
        checks.append(lambda ctx: ctx.bands.keys().isdisjoint(missing))
    if cond.labs_present:
        present = frozenset(cond.labs_present)
        checks.append(lambda ctx: ctx.bands.keys() >= present)
    if cond.causes_any:
        causes = tuple((cc.cause, cc.min_probability.value) for cc in cond.causes_any)
        checks.append(lambda ctx: any(ctx.probability(c) >= p for c, p in causes))
    if cond.top_cause_in:
        top = frozenset(cond.top_cause_in)
        checks.append(lambda ctx: ctx.top_cause in top)
    if cond.pregnant is not None:
        pregnant = cond.pregnant
        checks.append(lambda ctx: ctx.case.pregnant == pregnant)
    if cond.age_at_least is not None:
        age = cond.age_at_least.value
        checks.append(lambda ctx: ctx.case.age >= age)
    return tuple(checks)
