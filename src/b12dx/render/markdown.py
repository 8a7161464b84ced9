"""The assessment as GitHub-flavoured Markdown."""

from __future__ import annotations

from ..result import Assessment
from .common import LEVEL_TEXT, pct

__all__ = ["render_markdown"]


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(a: Assessment) -> str:
    t = a.triage
    out = [
        f"# b12dx assessment{f' — {a.case_id}' if a.case_id else ''}",
        "",
        f"**Triage: {t.level}** — {LEVEL_TEXT[t.level]}.",
        "",
    ]
    for r in t.reasons:
        action = f" {r.action}" if r.action else ""
        out.append(f"- {r.text}.{action} [{', '.join(r.sources)}]".replace("..", "."))
    out += [
        "",
        "## Differential",
        "",
        "| Cause | Probability | For | Against |",
        "|---|---:|---|---|",
    ]
    for c in a.differential:
        fo = ", ".join(f"{x.label} (+{x.log_odds:.2f})" for x in c.for_[:3])
        ag = ", ".join(f"{x.label} ({x.log_odds:.2f})" for x in c.against[:3])
        out.append(f"| {_cell(c.name)} | {pct(c.probability)} | {_cell(fo)} | {_cell(ag)} |")
    if a.labs:
        out += [
            "",
            "## Laboratory results",
            "",
            "| Test | Value | Band | Meaning |",
            "|---|---|---|---|",
        ]
        for lab in a.labs:
            out.append(
                f"| {lab.name} | {lab.value:g} {lab.unit} | {lab.band_label or '—'} | "
                f"{_cell(lab.text)} |"
            )
    if a.next_tests:
        out += ["", "## Next tests", ""]
        for n in a.next_tests:
            out.append(
                f"- **{n.name}** — {n.why} (expected information gain "
                f"{n.expected_information_gain:.2f} bits) [{', '.join(n.sources)}]"
            )
    treatments = ([a.treatment] if a.treatment else []) + a.other_treatments
    if treatments or a.monitoring or a.warnings:
        out += ["", "## Plan", ""]
        for tr in treatments:
            out.append(
                f"- **Treatment for {tr.cause} ({tr.route})**: {tr.regimen} — {tr.why} "
                f"[{', '.join(tr.sources)}]"
            )
            out += [f"  - Warning: {w}" for w in tr.warnings]
        out += [f"- Warning: {w.text} [{', '.join(w.sources)}]" for w in a.warnings]
        out += [f"- Monitoring: {m.text} [{', '.join(m.sources)}]" for m in a.monitoring]
    if a.diet:
        d = a.diet
        out += [
            "",
            "## Diet",
            "",
            f"Target: {d.target_ug_per_day:g} µg vitamin B12 a day "
            f"({d.life_stage}, {d.diet} diet).",
            "",
        ]
        out += [f"- {f.name}: {f.ug:g} µg per {f.serving}" for f in d.foods]
        if d.supplement:
            out += ["", d.supplement]
    if a.prevention:
        out += ["", "## Prevention", ""] + [f"- {p.text}" for p in a.prevention]
    if a.comparison:
        out += [
            "",
            "## Comparison with the seed tables",
            "",
            "| Feature | B12 deficiency | Electrolyte | Other | This person |",
            "|---|---|---|---|---|",
        ]
        for row in a.comparison:
            out.append(
                f"| {_cell(row.feature)} | {_cell(row.b12_deficiency)} | "
                f"{_cell(row.electrolyte)} | {_cell(row.other)} | "
                f"{row.this_person.replace('_', ' ')} |"
            )
    out += ["", "## Sources", ""]
    out += [
        f"- [{s.id}] {s.title}, {s.body}{f', {s.year}' if s.year else ''}. <{s.url}>"
        for s in a.sources
    ]
    out += [
        "",
        f"_{a.disclaimer}_",
        "",
        f"KB {a.kb.version} (sha256 {a.kb.sha256[:12]}), b12dx {a.b12dx_version}",
        "",
    ]
    return "\n".join(out)
