"""``result.trusted`` builds the same models as pydantic's own constructors."""

from __future__ import annotations

import pytest

from b12dx.result import Advice, CauseResult, Contribution, trusted

CONTRIBUTION = {
    "evidence": "lab:b12_total:low",
    "label": "Total vitamin B12",
    "state": "low",
    "log_odds": 1.2345,
    "sources": ["nice_ng239"],
}


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Contribution, CONTRIBUTION),
        (Advice, {"id": "a", "text": "Eat well.", "sources": []}),
        (
            CauseResult,
            {
                "id": "b12_diet",
                "name": "B12 deficiency (diet)",
                "lay_name": "Low B12 from diet",
                "group": "b12",
                "probability": 0.5,
                "prior": 0.01,
                "for_": [Contribution.model_validate(CONTRIBUTION)],
                "against": [],
                "confirm_with": None,
            },
        ),
    ],
)
def test_trusted_equals_validated(model, values):
    built = trusted(model, dict(values))
    validated = model.model_validate(values)
    assert built == validated
    assert built.model_dump_json(by_alias=True) == validated.model_dump_json(by_alias=True)
    assert built.model_fields_set == set(values)
