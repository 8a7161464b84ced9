"""Lab results: unit conversion, plausibility, derived tests and interpretation bands.

Every factor, range and cut-off comes from ``labs.toml`` in the knowledge base. Units are matched
after folding spelling variants (``µmol/L``, ``umol/L`` and ``μmol/l`` are one unit; UCUM's
``[IU]`` and ``meq`` are read as ``IU`` and ``mEq``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConflictError, ImplausibleValueError, InputError, UnitError, UnknownIdError
from .kb import Band, KnowledgeBase, LabTest

__all__ = [
    "LabReading",
    "band_for",
    "convert",
    "fold_unit",
    "interpret",
    "normalise_labs",
    "resolve_test",
]


@functools.lru_cache(maxsize=1024)
def fold_unit(unit: str) -> str:
    """A spelling-independent key for a unit."""
    u = unit.strip().replace("µ", "u").replace("μ", "u").replace("[", "").replace("]", "")
    u = re.sub(r"\s+", "", u).lower()
    return u.replace("/l", "/l").replace("mcg", "ug")


def _unit_table(test: LabTest) -> dict[str, float]:
    got = _unit_tables.get(id(test))
    if got is None or got[0] is not test:  # keyed by identity: KB objects are never mutated
        got = _unit_tables[id(test)] = (test, {fold_unit(u.unit): u.value for u in test.units})
    return got[1]


_unit_tables: dict[int, tuple[LabTest, dict[str, float]]] = {}


def convert(test: LabTest, value: float, unit: str, *, where: str | None = None) -> float:
    """*value* in *unit* expressed in the test's canonical unit."""
    factor = _unit_table(test).get(fold_unit(unit))
    if factor is None:
        raise UnitError(test.id, unit, [u.unit for u in test.units], where=where)
    # 12 significant digits: no lab reports more, and it removes binary rounding noise so that
    # a cut-off written in another unit lands exactly on the cut-off
    return float(f"{value * factor:.12g}")


def resolve_test(
    kb: KnowledgeBase, test: str | None, loinc: str | None, *, where: str | None = None
) -> LabTest:
    if test:
        key = re.sub(r"[\s\-]+", "_", test.strip().lower())
        found = kb.lab_by_id.get(key)
        if found is None:
            for t in kb.labs:
                if key in (s.lower() for s in t.synonyms):
                    return t
            raise UnknownIdError(
                "lab test", test, kb.lab_by_id, where=where, listing="b12dx kb labs"
            )
        return found
    if loinc:
        found = kb.lab_by_loinc.get(loinc.strip())
        if found is None:
            raise UnknownIdError(
                "LOINC code", loinc, kb.lab_by_loinc, where=where, listing="b12dx kb labs"
            )
        return found
    raise InputError("a lab result needs 'test' (a b12dx test id) or 'loinc'", where=where)


def _check_plausible(test: LabTest, canonical: float, value: float, unit: str, where: str) -> None:
    low, high = test.plausible_low.value, test.plausible_high.value
    if not low <= canonical <= high:
        factor = _unit_table(test)[fold_unit(unit)]
        raise ImplausibleValueError(
            test.name, value, low / factor, high / factor, unit, where=where
        )


def normalise_labs(
    labs: Sequence[object], kb: KnowledgeBase, *, sex: str, pregnant: bool
) -> list[object]:
    """Resolve tests, convert to canonical units, add derived tests; latest result wins."""
    from .case import LabResult, ReferenceRange

    by_test: dict[str, tuple[int, LabResult]] = {}
    for i, raw in enumerate(labs):
        assert isinstance(raw, LabResult)
        where = f"labs[{i}]"
        test = resolve_test(kb, raw.test, raw.loinc, where=where)
        if test.derived is not None and raw.test is None and raw.loinc is None:
            continue
        canonical = convert(test, raw.value, raw.unit, where=f"{where}.unit")
        _check_plausible(test, canonical, raw.value, raw.unit, f"{where}.value")
        rr = raw.reference_range
        if rr is not None:
            rr_unit = rr.unit or raw.unit
            rr = ReferenceRange(
                low=None
                if rr.low is None
                else convert(test, rr.low, rr_unit, where=f"{where}.reference_range"),
                high=None
                if rr.high is None
                else convert(test, rr.high, rr_unit, where=f"{where}.reference_range"),
                unit=test.unit,
            )
        item = LabResult(
            test=test.id,
            loinc=raw.loinc,
            value=canonical,
            unit=test.unit,
            reference_range=rr,
            date=raw.date,
            original_value=raw.value if raw.original_value is None else raw.original_value,
            original_unit=raw.unit if raw.original_unit is None else raw.original_unit,
        )
        prev = by_test.get(test.id)
        if prev is not None:
            j, old = prev
            if old.date is None or item.date is None or old.date == item.date:
                if old.value != item.value:
                    raise ConflictError(
                        f"two different {test.id} results without distinct dates (see labs[{j}])",
                        where=where,
                    )
                continue
            if item.date < old.date:
                continue
        by_test[test.id] = (i, item)

    out = [item for _, item in sorted(by_test.values(), key=lambda p: p[0])]
    present = {item.test: item for item in out}
    for test in kb.labs:
        d = test.derived
        if d is None or test.id in present or not all(i in present for i in d.inputs):
            continue
        if d.formula == "albumin_adjusted_calcium":
            ca, alb = (present[i] for i in d.inputs)
            value = ca.value + d.params["coefficient"].value * (
                d.params["reference_albumin"].value - alb.value
            )
            out.append(
                LabResult(
                    test=test.id,
                    value=value,
                    unit=test.unit,
                    date=ca.date,
                    original_value=None,
                    original_unit=None,
                )
            )
    return list(out)


def band_for(
    test: LabTest,
    value: float,
    *,
    sex: str,
    pregnant: bool,
    reference_range: tuple[float | None, float | None] | None = None,
) -> tuple[Band | None, bool]:
    """The band a canonical value falls in, and whether the lab's own range decided it."""

    candidates = [b for b in test.bands if b.applies_to(sex, pregnant)]
    if reference_range is not None and test.local_range is not None:
        for b in candidates:
            if b.fixed and b.contains(value):
                return b, False
        low, high = reference_range
        by_id = {b.id: b for b in test.bands}
        if low is not None and value < low:
            return by_id[test.local_range.below], True
        if high is not None and value > high:
            return by_id[test.local_range.above], True
        if low is not None or high is not None:
            return by_id[test.local_range.within], True
    for b in candidates:
        if b.contains(value):
            return b, False
    return None, False


@dataclass(frozen=True)
class LabReading:
    """A normalised lab value with its interpretation."""

    test: LabTest
    value: float
    band: Band | None
    local_range_used: bool
    original_value: float | None
    original_unit: str | None
    derived: bool


def interpret(
    labs: Sequence[object], kb: KnowledgeBase, *, sex: str, pregnant: bool
) -> list[LabReading]:
    from .case import LabResult

    readings = []
    for lab in labs:
        assert isinstance(lab, LabResult) and lab.test is not None
        test = kb.lab_by_id[lab.test]
        rr = None
        if lab.reference_range is not None:
            rr = (lab.reference_range.low, lab.reference_range.high)
        band, local = band_for(test, lab.value, sex=sex, pregnant=pregnant, reference_range=rr)
        readings.append(
            LabReading(
                test=test,
                value=lab.value,
                band=band,
                local_range_used=local,
                original_value=lab.original_value,
                original_unit=lab.original_unit,
                derived=lab.original_unit is None,
            )
        )
    return readings
