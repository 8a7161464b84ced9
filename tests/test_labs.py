"""Units, derived tests, local reference ranges and band boundaries."""

from __future__ import annotations

import pytest

from b12dx import assess
from b12dx.kb import load_kb
from b12dx.labs import band_for, convert, fold_unit


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("µmol/L", "umol/L"),
        ("μmol/l", "umol/L"),
        ("m[IU]/L", "mIU/L"),
        ("mcg/L", "ug/L"),
        (" pg / mL", "pg/ml"),
    ],
)
def test_unit_spellings_fold_together(a, b):
    assert fold_unit(a) == fold_unit(b)


@pytest.mark.parametrize(
    ("value", "unit", "expected"), [(100, "pmol/L", 135.5), (150, "pg/mL", 150), (150, "ng/L", 150)]
)
def test_b12_conversion(mini_kb, value, unit, expected):
    assert convert(mini_kb.lab_by_id["b12_total"], value, unit) == pytest.approx(expected)


def test_every_band_edge_in_every_unit_is_assigned_exactly_as_declared():
    """For every KB band edge: just below, at and just above, in every accepted unit."""
    kb = load_kb()
    checked = 0
    for test in kb.labs:
        for band in test.bands:
            profile_sex = "male" if band.sex == "male" else "female"
            preg = bool(band.pregnant)
            for edge, inclusive, inside in (
                (band.lower, band.lower_inclusive, +1),
                (band.upper, band.upper_inclusive, -1),
            ):
                if edge is None:
                    continue
                for unit in test.units:
                    at = edge / unit.value  # the edge written in this unit
                    step = max(abs(at), 1.0) * 1e-6
                    for v, should_be_in in (
                        (at, inclusive),
                        (at + inside * step, True),
                        (at - inside * step, False),
                    ):
                        canonical = convert(test, v, unit.unit)
                        got, _ = band_for(test, canonical, sex=profile_sex, pregnant=preg)
                        assert (got is not None and got.id == band.id) == should_be_in, (
                            f"{test.id} {v:g} {unit.unit} (edge {edge:g} {test.unit}) "
                            f"-> {got.id if got else None}, band {band.id}"
                        )
                        checked += 1
    assert checked > 100


def test_calcium_is_albumin_adjusted(mini_kb):
    a = assess(
        {
            "age": 50,
            "sex": "female",
            "labs": [
                {"test": "calcium_total", "value": 2.0, "unit": "mmol/L"},
                {"test": "albumin", "value": 3.0, "unit": "g/dL"},
            ],
        },
        kb=mini_kb,
    )
    adjusted = next(x for x in a.labs if x.test == "calcium_adjusted")
    assert adjusted.value == pytest.approx(2.0 + 0.02 * (40 - 30))
    assert adjusted.derived


def test_local_reference_range_overrides_but_fixed_band_wins(mini_kb):
    def band(value, low):
        a = assess(
            {
                "age": 50,
                "sex": "female",
                "labs": [
                    {
                        "test": "b12_total",
                        "value": value,
                        "unit": "ng/L",
                        "reference_range": {"low": low, "high": 900},
                    }
                ],
            },
            kb=mini_kb,
        )
        return a.labs[0].band, a.labs[0].reference

    assert band(250, 197) == ("deficiency_unlikely", "local")  # within the lab's range
    assert band(190, 197) == ("indeterminate", "local")  # below the lab's range
    assert band(150, 100) == ("deficiency_likely", "guideline")  # NG239 floor always applies


def test_reference_range_in_another_unit(mini_kb):
    a = assess(
        {
            "age": 50,
            "sex": "female",
            "labs": [
                {
                    "test": "b12_total",
                    "value": 140,
                    "unit": "pmol/L",
                    "reference_range": {"low": 200, "high": 900, "unit": "ng/L"},
                }
            ],
        },
        kb=mini_kb,
    )
    # 140 pmol/L = 189.7 ng/L, below the lab's 200 ng/L
    assert a.labs[0].band == "indeterminate"
