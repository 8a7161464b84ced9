"""Bad input gets a clear error that says what is wrong and what is accepted."""

from __future__ import annotations

import pytest

from b12dx import assess
from b12dx.errors import (
    ConflictError,
    ImplausibleValueError,
    InputError,
    OutOfScopeError,
    UnitError,
    UnknownIdError,
)

BASE = {"age": 60, "sex": "female"}


def case(**extra):
    return {**BASE, **extra}


def test_unknown_finding_suggests_close_ids(mini_kb):
    with pytest.raises(UnknownIdError) as err:
        assess(case(evidence=[{"id": "paresthesia_foot"}]), kb=mini_kb)
    assert "Did you mean 'paresthesia_feet'?" in str(err.value)
    assert "evidence[0]" in str(err.value)
    assert "b12dx kb findings" in str(err.value)


@pytest.mark.parametrize("raw", ["Muscle-Cramps", "muscle cramps", " MUSCLE_CRAMPS "])
def test_ids_are_read_leniently(mini_kb, raw):
    a = assess(case(evidence=[{"id": raw}]), kb=mini_kb)
    assert a.case.evidence[0].id == "muscle_cramps"


def test_wrong_unit_lists_accepted_units(mini_kb):
    with pytest.raises(UnitError) as err:
        assess(case(labs=[{"test": "b12_total", "value": 150, "unit": "mg/dL"}]), kb=mini_kb)
    assert "accepted units: ng/L, pg/mL, pmol/L" in str(err.value)


def test_implausible_value_gives_range_in_the_callers_unit(mini_kb):
    with pytest.raises(ImplausibleValueError) as err:
        assess(case(labs=[{"test": "potassium", "value": 40, "unit": "mEq/L"}]), kb=mini_kb)
    assert "plausible range is 1 to 10 mEq/L" in str(err.value)


def test_negative_value_is_implausible(mini_kb):
    with pytest.raises(ImplausibleValueError):
        assess(case(labs=[{"test": "b12_total", "value": -5, "unit": "pmol/L"}]), kb=mini_kb)


@pytest.mark.parametrize("states", [("present", "present"), ("present", "absent")])
def test_duplicate_or_conflicting_evidence_rejected(mini_kb, states):
    ev = [{"id": "fatigue", "state": s} for s in states]
    with pytest.raises(ConflictError) as err:
        assess(case(evidence=ev), kb=mini_kb)
    assert "evidence[1]" in str(err.value)


def test_children_are_refused(mini_kb):
    with pytest.raises(OutOfScopeError) as err:
        assess({"age": 12, "sex": "male"}, kb=mini_kb)
    assert "16" in str(err.value)


def test_pregnant_male_is_a_conflict(mini_kb):
    with pytest.raises(ConflictError):
        assess({"age": 30, "sex": "male", "pregnant": True}, kb=mini_kb)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"age": 40}, "sex: Field required"),
        ({"age": 40, "sex": "x"}, "sex must be 'female' or 'male'"),
        ({"age": 40, "sex": "female", "colour": 1}, "colour: unknown field"),
        ({"age": "old", "sex": "female"}, "age:"),
        ([], "must be a JSON/YAML object"),
    ],
)
def test_schema_errors_name_the_field(mini_kb, data, fragment):
    with pytest.raises(InputError) as err:
        assess(data, kb=mini_kb)
    assert fragment in str(err.value)


def test_unknown_medication_and_rxnorm(mini_kb):
    with pytest.raises(UnknownIdError) as err:
        assess(case(medications=[{"name": "metfornin"}]), kb=mini_kb)
    assert "metformin" in str(err.value)
    a = assess(case(medications=[{"rxnorm": "7646", "years": 3}]), kb=mini_kb)
    assert a.case.medications[0].drug_class == "ppi"
    b = assess(case(medications=[{"name": "Glucophage 500 mg tablets"}]), kb=mini_kb)
    assert b.case.medications[0].drug_class == "metformin"


def test_lab_by_loinc_and_latest_result_wins(mini_kb):
    a = assess(
        case(
            labs=[
                {"loinc": "2823-3", "value": 3.0, "unit": "mmol/L", "date": "2026-01-01"},
                {"loinc": "2823-3", "value": 4.1, "unit": "mmol/L", "date": "2026-03-01"},
            ]
        ),
        kb=mini_kb,
    )
    assert [x.value for x in a.labs] == [4.1]


def test_two_undated_different_results_conflict(mini_kb):
    with pytest.raises(ConflictError):
        assess(
            case(
                labs=[
                    {"test": "potassium", "value": 3.0, "unit": "mmol/L"},
                    {"test": "potassium", "value": 4.0, "unit": "mmol/L"},
                ]
            ),
            kb=mini_kb,
        )


@pytest.mark.parametrize(
    "med",
    [
        {"name": "omeprazole"},
        {"name": "Omeprazole 20 mg capsules"},
        {"name": "no-such-drug"},
        {"drug_class": "ppi"},
        {"drug_class": "not_a_class"},
        {"rxnorm": "6809"},
        {"rxnorm": "0000000"},
    ],
)
def test_find_medication_agrees_with_resolve_medication(kb, med):
    """The quiet lookup (FHIR input) finds what the strict one finds, and None where the strict
    one raises an UnknownIdError."""
    from b12dx.case import Medication, find_medication, resolve_medication

    m = Medication(**med)
    found = find_medication(m, kb)
    try:
        expected = resolve_medication(m, kb, where="medications[0]")
    except UnknownIdError:
        expected = None
    assert found == expected
