"""Shared evidence for triage tests: the ordinary night cramp that new rules must leave alone."""

from __future__ import annotations

from typing import Any

# A typical idiopathic night cramp: sudden, in one calf, eased by stretching. Rules for dangerous
# presentations are tested on top of it and must not fire on it alone.
NIGHT_CRAMP = {
    "muscle_cramps": "present",
    "nocturnal_leg_cramps": "present",
    "localised_to_one_muscle": "present",
    "relieved_by_stretching": "present",
    "onset_sudden": "present",
}


def male_case(
    *present: str,
    meds: tuple[str, ...] = (),
    labs: tuple[dict[str, Any], ...] = (),
    age: int = 70,
) -> dict[str, Any]:
    """Case data for a man with these findings present, medicines by name and lab results."""
    return {
        "age": age,
        "sex": "male",
        "evidence": [{"id": f} for f in present],
        "medications": [{"name": m} for m in meds],
        "labs": list(labs),
    }


def triage_rules(assessment: Any) -> set[str]:
    """The ids of the triage rules behind an Assessment's level."""
    return {r.rule for r in assessment.triage.reasons if r.rule}


def cause_of(assessment: Any, cause: str) -> Any:
    return next(c for c in assessment.differential if c.id == cause)


def odds(p: float) -> float:
    return p / (1 - p)
