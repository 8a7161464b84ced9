"""Leg cramps in pregnancy may be self-care, but never with a sign of a clot or of tetany.

Decision: docs/decisions.md "Leg cramps in pregnancy may be self-care" (WHO ANC 2016, HSE, RCOG
GTG 37b). DVT is more likely in pregnancy, so calf swelling, warmth/redness or persistent calf pain
must always escalate.
"""

from __future__ import annotations

import pytest

from b12dx import assess

CRAMPS = [{"id": "muscle_cramps"}, {"id": "nocturnal_leg_cramps"}, {"id": "relieved_by_stretching"}]


def _case(*extra: str, pregnant: bool = True) -> dict[str, object]:
    return {
        "age": 30,
        "sex": "female",
        "pregnant": pregnant,
        "evidence": CRAMPS + [{"id": e} for e in extra],
    }


def test_uncomplicated_pregnancy_cramps_are_self_care() -> None:
    a = assess(_case())
    assert a.differential[0].id == "pregnancy_related_cramps"
    assert a.triage.level == "self_care"
    assert any("midwife" in r.text for r in a.triage.reasons)


@pytest.mark.parametrize(
    ("sign", "rule"),
    [
        ("unilateral_calf_swelling", "dvt_unilateral_swelling"),
        ("calf_warmth_redness", "dvt_tender_calf_pregnant"),
        ("persistent_calf_pain", "persistent_calf_pain_pregnant"),
    ],
)
def test_calf_signs_in_pregnancy_are_an_emergency(sign: str, rule: str) -> None:
    a = assess(_case(sign))
    assert a.triage.level in ("emergency", "emergency_ambulance")
    assert rule in {r.rule for r in a.triage.reasons}


@pytest.mark.parametrize(
    "extra",
    [
        ("carpopedal_spasm",),
        ("paresthesia_feet",),
        ("muscle_weakness",),
        ("muscle_spasms", "muscle_tightness"),
        ("unilateral_calf_swelling", "shortness_of_breath"),
    ],
)
def test_other_features_keep_pregnancy_cramps_out_of_self_care(extra: tuple[str, ...]) -> None:
    assert assess(_case(*extra)).triage.level != "self_care"
