"""Self-care is advice about cramps: it needs a recorded muscle complaint (KB 2026.11.7)."""

from __future__ import annotations

from typing import Any

import pytest

from b12dx import assess
from b12dx.kb import KnowledgeBase

WITH_COMPLAINT = [
    ("nocturnal_leg_cramps",),
    ("muscle_cramps", "nocturnal_leg_cramps"),
    ("muscle_spasms", "nocturnal_leg_cramps"),
    ("muscle_tightness", "nocturnal_leg_cramps"),
    ("cramps_after_exercise", "strenuous_exercise_recent"),
]


def _case(*present: str, **extra: Any) -> dict[str, Any]:
    return {"age": 50, "sex": "male", "evidence": [{"id": f} for f in present], **extra}


@pytest.mark.parametrize("present", [(), ("onset_sudden",), ("recent_immobility_or_surgery",)])
def test_no_complaint_is_never_self_care(present: tuple[str, ...], kb: KnowledgeBase) -> None:
    a = assess(_case(*present), kb=kb)
    # a cramp-only cause can still top the list on its prior: the level must not follow it
    assert a.differential[0].id in kb.triage.self_care.causes
    assert a.triage.level == kb.triage.self_care.default_level
    assert any(w.id == "no_muscle_complaint" for w in a.warnings)


@pytest.mark.parametrize("present", WITH_COMPLAINT)
def test_a_recorded_complaint_still_allows_self_care(
    present: tuple[str, ...], kb: KnowledgeBase
) -> None:
    a = assess(_case(*present), kb=kb)
    assert a.differential[0].id in kb.triage.self_care.causes
    assert a.triage.level == "self_care"


def test_absent_complaint_does_not_count(kb: KnowledgeBase) -> None:
    case = _case()
    case["evidence"] = [{"id": "muscle_cramps", "state": "absent"}]
    assert assess(case, kb=kb).triage.level != "self_care"


def test_self_care_and_scope_note_name_the_same_complaints(kb: KnowledgeBase) -> None:
    when = kb.triage.self_care.when
    note = kb.plan.no_muscle_complaint
    assert when is not None and note is not None
    assert set(when.any_of) == set(note.when.none_of)
