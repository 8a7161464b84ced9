"""Wording shared by the renderers."""

from __future__ import annotations

from ..result import Assessment

__all__ = ["LEVEL_TEXT", "bar", "pct", "top_contributions"]

# Plain-language headline for each triage level.
LEVEL_TEXT = {
    "emergency_ambulance": "Call an ambulance now",
    "emergency": "Go to an emergency department or urgent care now",
    "consultation_24": "See a doctor within 24 hours",
    "consultation": "Book an appointment with a doctor",
    "self_care": "Self-care is reasonable; see a doctor if it changes or persists",
}


def pct(p: float) -> str:
    if p >= 0.995:
        return ">99%"
    if 0 < p < 0.005:
        return "<1%"
    return f"{p:.0%}"


def bar(p: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, p)) * width)
    return "█" * filled + "░" * (width - filled)


def top_contributions(a: Assessment, n: int = 3) -> dict[str, tuple[list[str], list[str]]]:
    out = {}
    for c in a.differential:
        out[c.id] = (
            [
                f.label + (f" ({f.state})" if f.state not in ("present",) else "")
                for f in c.for_[:n]
            ],
            [
                f.label + (f" ({f.state})" if f.state not in ("present",) else "")
                for f in c.against[:n]
            ],
        )
    return out
