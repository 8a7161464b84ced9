"""Shared helper for lab-band boundary tests: the band a value in a unit lands in."""

from __future__ import annotations

from b12dx.kb import KnowledgeBase
from b12dx.labs import band_for, convert


def band_id(
    kb: KnowledgeBase, test_id: str, value: float, unit: str, sex: str, pregnant: bool = False
) -> str | None:
    """The id of the band *value* (in *unit*) falls in for *sex*, or None when none applies."""
    test = kb.lab_by_id[test_id]
    band, _ = band_for(test, convert(test, value, unit), sex=sex, pregnant=pregnant)
    return None if band is None else band.id
