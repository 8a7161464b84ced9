"""The clinician form's round trip, without a browser: what was typed always comes back, and
each service error lands next to the row it concerns even when blank rows were skipped."""

from __future__ import annotations

import pytest

from b12dx.case import Case
from b12dx.service.routers.web.form import FormState, case_from_state

FORM = {
    "age": "58",
    "sex": "female",
    "findings-0-id": "paresthesia_feet",
    "findings-0-state": "present",
    "findings-3-id": "fatigue",
    "findings-3-state": "absent",
    "meds-0-name": "",
    "meds-1-name": "metformin",
    "meds-1-years": "7",
    "labs-0-test": "",
    "labs-0-value": "",
    "labs-2-test": "b12_total",
    "labs-2-value": "150",
    "labs-2-unit": "pg/mL",
}


def test_blank_rows_are_skipped_and_remembered() -> None:
    state = FormState.from_form(FORM)
    case = case_from_state(state)
    assert isinstance(case, Case)
    assert [e.id for e in case.evidence] == ["paresthesia_feet", "fatigue"]
    assert case.evidence[1].state == "absent"
    assert case.medications[0].name == "metformin" and case.medications[0].years == 7
    assert case.labs[0].value == 150


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("labs[0].value", "labs-1-value"),  # the case's first lab is the form's second row
        ("labs[0].unit", "labs-1-unit"),
        ("labs[0]", "labs-1-test"),
        ("medications[0]", "meds-1-name"),
        ("medications[0].years", "meds-1-years"),
        ("evidence[1]", "findings-1-id"),
        ("age", "age"),
        ("pregnant", "pregnant"),
        ("labs[9].value", None),  # no such row: shown in the summary instead
        (None, None),
    ],
)
def test_errors_map_to_their_field(where: str | None, field: str | None) -> None:
    state = FormState.from_form(FORM)
    state.to_data()
    assert state.field_for(where) == field


def test_pydantic_errors_go_next_to_the_field() -> None:
    state = FormState.from_form({**FORM, "age": "fifty", "labs-2-value": "lots"})
    assert case_from_state(state) is None
    assert "age" in state.errors
    assert "labs-1-value" in state.errors
    # nothing typed is lost
    assert state.age == "fifty"
    assert state.labs[1]["value"] == "lots"


def test_a_value_without_a_test_is_an_error_not_a_silent_drop() -> None:
    state = FormState.from_form({**FORM, "labs-0-value": "4.2"})
    assert case_from_state(state) is None
    assert state.errors == {"labs-0-test": "choose the test this value belongs to"}


def test_missing_age_and_sex_are_explained() -> None:
    state = FormState.from_form({"age": "", "sex": ""})
    assert case_from_state(state) is None
    assert state.errors["age"] == "enter the person's age in years"
    assert state.errors["sex"] == "choose female or male"


def test_a_loinc_code_in_the_test_column_is_read_as_loinc() -> None:
    form = {
        "age": "60",
        "sex": "male",
        "labs-0-test": "2132-9",
        "labs-0-value": "140",
        "labs-0-unit": "pg/mL",
    }
    case = case_from_state(FormState.from_form(form))
    assert case is not None
    assert case.labs[0].loinc == "2132-9" and case.labs[0].test is None
