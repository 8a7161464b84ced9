"""The terminal report (Rich): triage banner, differential with bars, labs, plan, sources."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..result import Assessment
from .common import LEVEL_TEXT, bar, pct

__all__ = ["render_text", "renderable"]

_STYLE = {
    "emergency_ambulance": "bold white on red",
    "emergency": "bold white on red",
    "consultation_24": "bold black on yellow",
    "consultation": "bold black on cyan",
    "self_care": "bold black on green",
}


def renderable(a: Assessment, *, max_causes: int = 8) -> RenderableType:
    parts: list[RenderableType] = []
    t = a.triage
    banner = Text(f" {LEVEL_TEXT[t.level]} ", style=_STYLE[t.level])
    banner.append(f"  triage: {t.level}", style="bold")
    reasons = Text()
    for r in t.reasons:
        reasons.append(f"• {r.text}", style="")
        if r.action:
            reasons.append(f" — {r.action}", style="italic")
        reasons.append(f"  [{', '.join(r.sources)}]\n", style="dim")
    parts.append(Panel(Group(banner, reasons), title="b12dx assessment", expand=True))

    diff = Table(title="Differential (exact posterior probabilities)", expand=True)
    diff.add_column("Cause")
    diff.add_column("P", justify="right")
    diff.add_column("", no_wrap=True)
    diff.add_column("Evidence for / against")
    for c in a.differential[:max_causes]:
        why = ", ".join(f"+{x.label}" for x in c.for_[:3])
        against = ", ".join(f"−{x.label}" for x in c.against[:2])
        diff.add_row(
            c.name,
            pct(c.probability),
            bar(c.probability),
            "; ".join(s for s in (why, against) if s),
        )
    parts.append(diff)

    if a.labs:
        labs = Table(title="Laboratory results", expand=True)
        for col in ("Test", "Value", "Band", "Meaning"):
            labs.add_column(col)
        for lab in a.labs:
            shown = f"{lab.value:g} {lab.unit}"
            if lab.original_unit and lab.original_unit != lab.unit:
                shown += f" ({lab.original_value:g} {lab.original_unit})"
            style = "bold red" if lab.abnormal else ""
            labs.add_row(lab.name, shown, Text(lab.band_label or "—", style=style), lab.text)
        parts.append(labs)

    steps = Table(title="Next tests", expand=True)
    steps.add_column("Test")
    steps.add_column("Why")
    steps.add_column("EIG (bits)", justify="right")
    for n in a.next_tests:
        steps.add_row(n.name, n.why, f"{n.expected_information_gain:.2f}")
    if a.next_tests:
        parts.append(steps)

    plan = Text()
    for tr in ([a.treatment] if a.treatment else []) + a.other_treatments:
        plan.append(f"Treatment ({tr.cause}, {tr.route}): ", style="bold")
        plan.append(f"{tr.regimen}\n  why: {tr.why}\n")
        for text in tr.warnings:
            plan.append(f"  ! {text}\n", style="yellow")
    for advice in a.warnings:
        plan.append(f"! {advice.text}\n", style="yellow")
    for m in a.monitoring:
        plan.append(f"Monitor: {m.text}\n")
    if a.diet:
        d = a.diet
        foods = ", ".join(f"{f.name} ({f.ug:g} µg per {f.serving})" for f in d.foods[:5])
        plan.append(
            f"Diet: aim for {d.target_ug_per_day:g} µg B12 a day ({d.life_stage}). "
            f"Good sources for a {d.diet} diet: {foods}.\n"
        )
        if d.supplement:
            plan.append(f"  {d.supplement}\n")
    for p in a.prevention:
        plan.append(f"Prevention: {p.text}\n")
    if plan.plain:
        parts.append(Panel(plan, title="Plan", expand=True))

    if a.comparison:
        comp = Table(title="How this person compares (seed tables)", expand=True)
        for col in ("Feature", "B12 deficiency", "Electrolyte", "Other", "This person"):
            comp.add_column(col)
        for row in a.comparison:
            comp.add_row(
                row.feature,
                row.b12_deficiency,
                row.electrolyte,
                row.other,
                row.this_person.replace("_", " "),
            )
        parts.append(comp)

    src = Text()
    for s in a.sources:
        src.append(f"[{s.id}] ", style="bold")
        src.append(f"{s.title} — {s.body}{f', {s.year}' if s.year else ''}. {s.url}\n")
    parts.append(Panel(src, title="Sources", expand=True))
    parts.append(
        Text(
            f"{a.disclaimer}\nKB {a.kb.version} ({a.kb.sha256[:12]}), b12dx {a.b12dx_version}",
            style="dim",
        )
    )
    return Group(*parts)


def render_text(a: Assessment, *, width: int = 100, color: bool = False) -> str:
    import io

    console = Console(
        width=width,
        record=True,
        force_terminal=color,
        color_system="auto" if color else None,
        file=io.StringIO(),
    )
    console.print(renderable(a))
    return console.export_text(styles=color)
