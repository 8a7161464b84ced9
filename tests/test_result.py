"""``result.trusted`` builds the same models as pydantic's own constructors."""

from __future__ import annotations

import pytest

from b12dx.result import Advice, CauseResult, Contribution, trusted, trusted_all

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


def test_trusted_all_builds_independent_models():
    rows = [dict(CONTRIBUTION, log_odds=float(i)) for i in range(3)]
    built = trusted_all(Contribution, rows)
    assert [m.log_odds for m in built] == [0.0, 1.0, 2.0]
    assert built == [Contribution.model_validate(r) for r in rows]
    assert all(m.model_fields_set == set(CONTRIBUTION) for m in built)
    copied = built[0].model_copy(update={"log_odds": 9.0})
    assert copied.log_odds == 9.0
    assert built[0].log_odds == 0.0
    assert built[1].model_fields_set == set(CONTRIBUTION)
