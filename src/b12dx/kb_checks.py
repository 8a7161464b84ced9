"""Cross-reference checks of the knowledge base: every problem, reported at once.

The pydantic models in ``kb.py`` check each record's shape; this module checks what no single
record can: that every id referred to exists, that probabilities are probabilities, that every
source cited is listed, that lab bands do not overlap, that no cause or finding is orphaned.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel

from .errors import Issue
from .kb import Band, Condition, Effect, KnowledgeBase, LabTest, Provenance

__all__ = ["provenance_items", "validate"]


# Values that never hold a model: the walks skip them without looking further.
_LEAVES = (str, int, float, bool, type(None))


@cache
def _model_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model class that can hold another model (by annotation), in order.

    The walks below visit thousands of objects; skipping the plain string and number fields up
    front, rather than per object, is what keeps ``validate`` to a few milliseconds.
    """
    return tuple(
        name for name, field in cls.model_fields.items() if _may_hold_model(field.annotation)
    )


def _may_hold_model(annotation: Any) -> bool:
    if annotation is Any:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, BaseModel)
    return any(_may_hold_model(arg) for arg in get_args(annotation))


def provenance_items(kb: KnowledgeBase) -> Iterator[tuple[str, Provenance]]:
    """Every provenance-carrying object with its location."""
    out: list[tuple[str, Provenance]] = []
    # a plain recursive collector: nested generators cost several times more on ~7000 nodes
    _collect(kb, "", Provenance, out, labels=True, descend=True)
    return iter(out)


def _condition_items(kb: KnowledgeBase) -> list[tuple[str, Condition]]:
    out: list[tuple[str, Condition]] = []
    _collect(kb, "", Condition, out, labels=False, descend=False)
    return out


def _collect(
    obj: Any, where: str, kind: type[Any], out: list[Any], *, labels: bool, descend: bool
) -> None:
    """Append (location, object) for every instance of ``kind`` under ``obj``, in field order.

    ``labels`` adds a list item's id to its location; ``descend`` looks inside a match too.
    """
    if isinstance(obj, kind):
        out.append((where, obj))
        if not descend:
            return
    if isinstance(obj, BaseModel):
        values = obj.__dict__
        for name in _model_fields(type(obj)):
            value = values[name]
            if not isinstance(value, _LEAVES):
                _collect(
                    value,
                    f"{where}.{name}" if where else name,
                    kind,
                    out,
                    labels=labels,
                    descend=descend,
                )
    elif isinstance(obj, tuple | list):
        for i, item in enumerate(obj):
            if isinstance(item, _LEAVES):
                continue
            label = item.__dict__.get("id") if labels and isinstance(item, BaseModel) else None
            _collect(
                item,
                f"{where}[{i}]" + (f"({label})" if label else ""),
                kind,
                out,
                labels=labels,
                descend=descend,
            )
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(v, _LEAVES):
                _collect(v, f"{where}.{k}", kind, out, labels=labels, descend=descend)


def validate(kb: KnowledgeBase) -> list[Issue]:
    """Check cross-references and ranges; return every problem found (empty when clean)."""
    issues: list[Issue] = []
    add = issues.append

    def dupes(kind: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                add(Issue(kind, f"duplicate id {i!r}"))
            seen.add(i)

    dupes("sources", [s.id for s in kb.sources])
    dupes("causes", [c.id for c in kb.causes])
    dupes("labs", [t.id for t in kb.labs])
    dupes("drug_classes", [d.id for d in kb.drug_classes])
    # findings, risk factors and drug classes share one namespace in cases
    dupes(
        "evidence ids",
        [f.id for f in kb.findings]
        + [r.id for r in kb.risk_factors]
        + [d.id for d in kb.drug_classes]
        + list(kb.alias_map),
    )

    source_ids = set(kb.source_by_id)
    for where, prov in provenance_items(kb):
        for s in prov.sources:
            if s not in source_ids:
                add(Issue(where, f"unknown source {s!r}"))
    for c in kb.causes:
        for s in c.sources:
            if s not in source_ids:
                add(Issue(f"causes({c.id})", f"unknown source {s!r}"))
    for t in kb.labs:
        for s in t.sources:
            if s not in source_ids:
                add(Issue(f"labs({t.id})", f"unknown source {s!r}"))
    for d in kb.drug_classes:
        for s in d.sources:
            if s not in source_ids:
                add(Issue(f"drug_classes({d.id})", f"unknown source {s!r}"))
    # a medicine's further classes: known, not its own class, each named once; and one primary
    # class per medicine: a second class goes in ``also``, not in a second list
    listed: dict[str, str] = {}
    for d in kb.drug_classes:
        for drug in d.drugs:
            where = f"drug_classes({d.id}).drugs({drug.name}).also"
            for a in drug.also:
                if a == d.id:
                    add(Issue(where, f"{a!r} is the class that lists the medicine"))
                elif a not in kb.drug_class_by_id:
                    add(Issue(where, f"unknown drug class {a!r}"))
            for a in sorted({a for a in drug.also if drug.also.count(a) > 1}):
                add(Issue(where, f"{a!r} is named more than once"))
            key = drug.name.lower()
            if key in listed and listed[key] != d.id:
                add(
                    Issue(
                        f"drug_classes({d.id}).drugs({drug.name})",
                        f"also listed by {listed[key]!r}; name the second class in 'also'",
                    )
                )
            listed.setdefault(key, d.id)

    causes = set(kb.cause_by_id)
    findings = set(kb.finding_by_id)
    evidence_like = set(kb.evidence_ids) | set(kb.drug_class_by_id)
    all_tags = set().union(*kb.tags_of.values()) if kb.tags_of else set()

    def prob(where: str, value: float, *, open_interval: bool = True) -> None:
        ok = 0.0 < value < 1.0 if open_interval else 0.0 <= value < 1.0
        if not ok:
            interval = "(0, 1)" if open_interval else "[0, 1)"
            add(Issue(where, f"probability {value} must be in {interval}"))

    for c in kb.causes:
        for i, p in enumerate(c.prior):
            prob(f"causes({c.id}).prior[{i}]", p.value)
        for r in c.requires_any:
            if r not in evidence_like:
                add(Issue(f"causes({c.id}).requires_any", f"unknown evidence id {r!r}"))
        last = c.prior[-1]
        if last.age_from is not None or last.age_to is not None or last.sex != "any":
            add(
                Issue(
                    f"causes({c.id}).prior",
                    "the last prior entry must be a catch-all (no age or sex filter)",
                )
            )
    for f in kb.findings:
        prob(f"findings({f.id}).leak", f.leak.value)
    linked_causes: set[str] = set()
    linked_findings: set[str] = set()
    seen_links: set[tuple[str, str]] = set()
    for i, link in enumerate(kb.links):
        where = f"links[{i}]({link.cause}->{link.finding})"
        if link.cause not in causes:
            add(Issue(where, f"unknown cause {link.cause!r}"))
        if link.finding not in findings:
            add(Issue(where, f"unknown finding {link.finding!r}"))
        if (link.cause, link.finding) in seen_links:
            add(Issue(where, "duplicate link"))
        seen_links.add((link.cause, link.finding))
        prob(where, link.value, open_interval=False)
        linked_causes.add(link.cause)
        linked_findings.add(link.finding)
    for c in kb.causes:
        if c.id not in linked_causes:
            add(Issue(f"causes({c.id})", "orphan cause: no finding links to it"))
    for f in kb.findings:
        if f.id not in linked_findings and f.kind != "lab":
            add(Issue(f"findings({f.id})", "orphan finding: no cause links to it"))

    owners: list[tuple[str, tuple[Effect, ...]]] = [(r.id, r.effects) for r in kb.risk_factors]
    owners += [(d.id, d.effects) for d in kb.drug_classes]
    for owner, effects in owners:
        for j, e in enumerate(effects):
            if e.cause not in causes:
                add(Issue(f"{owner}.effects[{j}]", f"unknown cause {e.cause!r}"))
            if e.value <= 0:
                add(Issue(f"{owner}.effects[{j}]", "an odds ratio must be positive"))

    band_refs: set[str] = set()
    for t in kb.labs:
        canon = [u for u in t.units if u.unit == t.unit]
        if not canon or canon[0].value != 1.0:
            add(Issue(f"labs({t.id})", f"canonical unit {t.unit!r} must be listed with factor 1"))
        if t.plausible_low.value >= t.plausible_high.value:
            add(Issue(f"labs({t.id})", "plausible_low must be below plausible_high"))
        ids = [b.id for b in t.bands]
        if len(set(ids)) != len(ids):
            add(Issue(f"labs({t.id}).bands", "duplicate band id"))
        for band in t.bands:
            band_refs.add(f"{t.id}:{band.id}")
            if band.finding is not None and band.finding not in findings:
                add(Issue(f"labs({t.id}).bands({band.id})", f"unknown finding {band.finding!r}"))
            elif band.finding is not None and kb.finding_by_id[band.finding].kind != "lab":
                add(
                    Issue(f"labs({t.id}).bands({band.id})", "a band's finding must have kind 'lab'")
                )
            _check_implies(t, band, add)
        if t.local_range is not None:
            for name in ("below", "within", "above"):
                if getattr(t.local_range, name) not in ids:
                    add(Issue(f"labs({t.id}).local_range.{name}", "unknown band"))
        if t.derived is not None:
            for inp in t.derived.inputs:
                if inp not in kb.lab_by_id:
                    add(Issue(f"labs({t.id}).derived", f"unknown input test {inp!r}"))
        _check_band_cover(t, add)

    for where, cond in _condition_items(kb):
        for ident in (*cond.all_of, *cond.any_of, *cond.none_of):
            if ident not in evidence_like:
                add(Issue(where, f"unknown evidence id {ident!r}"))
        for tag in (*cond.tags_any, *cond.tags_all):
            if tag not in all_tags:
                add(Issue(where, f"no evidence carries tag {tag!r}"))
        for lc in (*cond.labs_any, *cond.labs_all):
            for b in lc.bands:
                if f"{lc.test}:{b}" not in band_refs:
                    add(Issue(where, f"unknown lab band {lc.test}:{b}"))
        for t_id in (*cond.labs_missing, *cond.labs_present):
            if t_id not in kb.lab_by_id:
                add(Issue(where, f"unknown lab test {t_id!r}"))
        for cc in cond.causes_any:
            if cc.cause not in causes:
                add(Issue(where, f"unknown cause {cc.cause!r}"))
        for c_id in cond.top_cause_in:
            if c_id not in causes:
                add(Issue(where, f"unknown cause {c_id!r}"))

    for rule in kb.triage.probability_rules:
        if rule.cause not in causes:
            add(Issue(f"triage.probability_rules({rule.id})", f"unknown cause {rule.cause!r}"))
    for c_id in kb.triage.self_care.causes:
        if c_id not in causes:
            add(Issue("triage.self_care.causes", f"unknown cause {c_id!r}"))
    for test_rule in kb.plan.test_rules:
        for t_id in test_rule.tests:
            if t_id not in kb.lab_by_id:
                add(Issue(f"plan.test_rules({test_rule.id})", f"unknown lab test {t_id!r}"))
    for tr in kb.plan.treatments:
        if tr.cause not in causes:
            add(Issue(f"plan.treatments({tr.cause})", "unknown cause"))
    for i, row in enumerate(kb.plan.comparison):
        for ref in (*row.matches_b12, *row.matches_electrolyte, *row.matches_other):
            if ref not in evidence_like and ref not in band_refs and ref not in causes:
                add(Issue(f"plan.comparison[{i}]", f"unknown evidence, band or cause {ref!r}"))
    return issues


def _check_implies(t: LabTest, band: Band, add: Any) -> None:
    """``implies`` names findings of the same test's other bands (milder thresholds on the same
    side), never the band's own finding, each once, and only on a band that has a finding."""
    if not band.implies:
        return
    where = f"labs({t.id}).bands({band.id}).implies"
    if band.finding is None:
        add(Issue(where, "a band without a finding cannot imply findings"))
    own = {b.finding for b in t.bands if b.finding is not None}
    if len(set(band.implies)) != len(band.implies):
        add(Issue(where, "duplicate finding"))
    for f in band.implies:
        if f == band.finding:
            add(Issue(where, f"{f!r} is the band's own finding"))
        elif f not in own:
            add(Issue(where, f"{f!r} is not the finding of another band of this test"))


def _check_band_cover(t: LabTest, add: Any) -> None:
    """Bands for each sex/pregnancy profile must not overlap."""
    profiles = [("female", False), ("female", True), ("male", False)]
    probes: set[float] = set()
    for b in t.bands:
        for edge in (b.lower, b.upper):
            if edge is not None:
                probes.update({edge, edge * (1 - 1e-9), edge * (1 + 1e-9) + 1e-12})
    for sex, preg in profiles:
        for v in sorted(probes):
            hits = [b.id for b in t.bands if b.applies_to(sex, preg) and b.contains(v)]
            if len(hits) > 1:
                add(
                    Issue(
                        f"labs({t.id}).bands",
                        f"bands {hits} overlap at {v:g} ({sex}, pregnant={preg})",
                    )
                )
                return
