"""The web routes over HTTP, without a browser: headers, bad input, exports, static files."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from b12dx.service import create_app

CASE = {
    "age": 58,
    "sex": "female",
    "evidence": [{"id": "muscle_cramps", "initial": True}, {"id": "paresthesia_feet"}],
    "labs": [{"test": "b12_total", "value": 150, "unit": "pg/mL"}],
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/questionnaire", "/clinician"])
def test_pages_are_html_with_a_strict_policy(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "path", ["/static/../routers/web.py", "/static/%2e%2e/app.py", "/static/nope.css"]
)
def test_static_files_stay_in_their_folder(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_static_files_are_served(client: TestClient) -> None:
    resp = client.get("/static/b12dx.css")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/css")
    assert (
        client.get("/static/questionnaire.js").headers["content-type"].startswith("text/javascript")
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"case": "not json"}, "could not be read"),
        ({"case": json.dumps({**CASE, "age": 9})}, "16"),
        ({}, "could not be read"),
    ],
)
def test_questionnaire_result_refuses_bad_answers(
    client: TestClient, body: dict[str, str], expected: str
) -> None:
    resp = client.post("/questionnaire/result", data=body)
    assert resp.status_code == 422
    assert expected in resp.text


def test_questionnaire_result_is_the_assessment(client: TestClient) -> None:
    resp = client.post("/questionnaire/result", data={"case": json.dumps(CASE)})
    assert resp.status_code == 200
    api = client.post("/v1/assess", json=CASE).json()
    assert f'data-level="{api["triage"]["level"]}"' in resp.text
    assert f'data-cause="{api["differential"][0]["id"]}"' in resp.text


@pytest.mark.parametrize(
    ("fmt", "media", "check"),
    [
        ("json", "application/json", lambda d: d["schema"] == "b12dx/assessment/v1"),
        ("fhir", "application/fhir+json", lambda d: d["resourceType"] == "Bundle"),
    ],
)
def test_export(client: TestClient, fmt: str, media: str, check: object) -> None:
    resp = client.post("/clinician/export", data={"case": json.dumps(CASE), "format": fmt})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith(media)
    assert "attachment" in resp.headers["content-disposition"]
    assert callable(check) and check(resp.json())


def test_export_refuses_a_bad_case(client: TestClient) -> None:
    resp = client.post("/clinician/export", data={"case": "{}", "format": "json"})
    assert resp.status_code == 422


def test_fhir_form_needs_a_bundle(client: TestClient) -> None:
    resp = client.post("/clinician/fhir", data={"bundle": "  "})
    assert resp.status_code == 422
    assert 'id="fhir-bundle-error"' in resp.text


def test_fhir_form_reports_what_it_cannot_use(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p",
                    "gender": "male",
                    "birthDate": "1950-01-01",
                }
            },
            {"resource": {"resourceType": "Immunization", "id": "i1"}},
        ],
    }
    resp = client.post("/clinician/fhir", data={"bundle": json.dumps(bundle)})
    assert resp.status_code == 200
    assert "Immunization" in resp.text and "Not used" in resp.text


def test_clinician_form_error_status_and_field(client: TestClient) -> None:
    form = {
        "age": "58",
        "sex": "female",
        "labs-0-test": "b12_total",
        "labs-0-value": "150",
        "labs-0-unit": "furlongs",
    }
    resp = client.post("/clinician", data=form)
    assert resp.status_code == 422
    assert 'id="labs-0-unit-error"' in resp.text
    assert "accepted units" in resp.text


def test_bad_launch_token(client: TestClient) -> None:
    resp = client.get("/clinician", params={"context": "x" * 40})
    assert resp.status_code == 400
    assert "could not be used" in resp.text
