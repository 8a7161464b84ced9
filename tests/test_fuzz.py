"""Nothing but a B12dxError ever escapes the Case parser and assess(), whatever the input."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b12dx import assess
from b12dx.errors import B12dxError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

ids = st.sampled_from(
    [
        "muscle_cramps",
        "paresthesia_feet",
        "fatigue",
        "vegan_diet",
        "nope",
        "unilateral_calf_swelling",
        "",
        "MUSCLE-CRAMPS",
    ]
)
units = st.sampled_from(["pg/mL", "pmol/L", "mmol/L", "mEq/L", "g/dL", "fL", "%", "furlongs", ""])
tests = st.sampled_from(["b12_total", "potassium", "mcv", "albumin", "calcium_total", "xyz"])
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6)

cases = st.fixed_dictionaries(
    {"age": numbers | st.text(max_size=3), "sex": st.sampled_from(["female", "male", "M", "x"])},
    optional={
        "pregnant": st.booleans() | json_values,
        "evidence": st.lists(
            st.fixed_dictionaries(
                {"id": ids},
                optional={"state": st.sampled_from(["present", "absent", "unknown", "sometimes"])},
            ),
            max_size=6,
        )
        | json_values,
        "medications": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["metformin", "Losec", "aspirin", ""]),
                    "rxnorm": st.sampled_from(["7646", "0", "abc"]),
                    "years": numbers,
                },
            ),
            max_size=3,
        ),
        "labs": st.lists(
            st.fixed_dictionaries(
                {"value": numbers, "unit": units},
                optional={
                    "test": tests,
                    "loinc": st.sampled_from(["2823-3", "0000-0"]),
                    "reference_range": st.fixed_dictionaries(
                        {}, optional={"low": numbers, "high": numbers, "unit": units}
                    ),
                },
            ),
            max_size=4,
        ),
        "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_structured_garbage_raises_only_b12dx_errors(mini_kb, case):
    with contextlib.suppress(B12dxError):
        assess(case, kb=mini_kb)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_json_raises_only_b12dx_errors(mini_kb, data):
    with contextlib.suppress(B12dxError):
        assess(data, kb=mini_kb)
