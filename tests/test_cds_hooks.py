"""CDS Hooks 2.0: discovery, patient-view and order-select, prefetch, JWT auth, feedback.

A real HTTP FHIR server runs on 127.0.0.1 (``service_support.FhirServer``) for the "prefetch
absent" paths and serves the EHR's JWKS; JWTs are signed with a fresh EC P-384 key.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from b12dx.kb import KnowledgeBase
from b12dx.service import cds
from b12dx.service.launch import (
    LaunchContext,
    LaunchContextDep,
    LaunchTokenError,
    issue_context,
    read_context,
)
from service_support import FhirServer, Signer, load_fixture, make_app, service_kb

PUBLIC = "https://b12dx.example.org"
PV = "b12dx-patient-view"
OS = "b12dx-order-select"
SECRET = "test-launch-secret"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return service_kb()


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    return [e["resource"] for e in data["entry"]]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def fhir(resources: list[dict[str, Any]], signer: Signer) -> Iterator[FhirServer]:
    server = FhirServer(resources, jwks=signer.jwks)
    with server.running():
        yield server


def _root(server: FhirServer) -> str:
    return server.url.removesuffix("/fhir")


@pytest.fixture
def app(kb: KnowledgeBase, fhir: FhirServer, signer: Signer) -> FastAPI:
    return make_app(
        kb,
        public_url=PUBLIC,
        launch_secret=SECRET,
        cds_issuers={signer.iss: f"{_root(fhir)}/jwks.json"},
    )


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def _auth(signer: Signer, service: str = PV, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {signer.token(f'{PUBLIC}/cds-services/{service}', **kw)}"}


def _bundle(resources: list[dict[str, Any]], rtype: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources if r["resourceType"] == rtype],
    }


def _prefetch(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """What an EHR would send for the discovery templates (labs by LOINC, active orders)."""
    kb = service_kb()
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    labs = [
        r
        for r in resources
        if r["resourceType"] == "Observation"
        and any(c.get("code") in kb.lab_by_loinc for c in r["code"].get("coding", []))
    ]
    orders = [
        r for r in resources if r["resourceType"] == "MedicationRequest" and r["status"] == "active"
    ]
    return {
        "patient": patient,
        "observations": _bundle(labs, "Observation"),
        "medications": _bundle(orders, "MedicationRequest"),
        "conditions": _bundle(resources, "Condition"),
    }


def _request(hook: str = "patient-view", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "scn1"},
    }
    body.update(kw)
    return body


# -- discovery -----------------------------------------------------------------------------


def test_discovery(client: TestClient, kb: KnowledgeBase) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {(PV, "patient-view"), (OS, "order-select")}
    for s in services:
        assert set(s["prefetch"]) == {"patient", "observations", "medications", "conditions"}
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        for t in kb.labs:
            for code in t.loinc:
                assert f"http://loinc.org|{code}" in s["prefetch"]["observations"]
        assert "status=active" in s["prefetch"]["medications"]


def test_triggers_come_from_the_kb(kb: KnowledgeBase) -> None:
    classes = cds.trigger_classes(kb)
    assert any("metformin" in c for c in classes)
    assert any(
        kb.drug_class_by_id[c].name.lower().startswith("proton") or "ppi" in c for c in classes
    )
    tests = cds.trigger_tests(kb)
    assert {"b12_total", "mma", "potassium", "magnesium", "sodium"} <= tests
    assert not {"haemoglobin", "mcv", "ck"} & tests


# -- patient-view --------------------------------------------------------------------------


def test_patient_view_with_full_prefetch(
    client: TestClient, signer: Signer, fhir: FhirServer, resources: list[dict[str, Any]]
) -> None:
    before = len(fhir.requests)
    resp = client.post(
        f"/cds-services/{PV}",
        headers=_auth(signer),
        json=_request(prefetch=_prefetch(resources), fhirServer=fhir.url),
    )
    assert resp.status_code == 200, resp.text
    [card] = resp.json()["cards"]
    fetched = [p for p, _ in fhir.requests[before:] if p.startswith("/fhir/")]
    assert fetched == []  # nothing fetched: the prefetch was complete
    assert len(card["summary"]) < 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert card["source"]["label"].startswith("b12dx") and card["source"]["url"]
    assert card["detail"].startswith("**Triage:")
    uuid.UUID(card["uuid"])
    if "suggestions" in card:
        assert card["selectionBehavior"] == "any"
        for s in card["suggestions"]:
            [action] = s["actions"]
            assert action["type"] == "create"
            assert action["resource"]["resourceType"] == "ServiceRequest"
            assert action["resource"]["subject"] == {"reference": "Patient/scn1"}
    link, questionnaire = card["links"]
    assert questionnaire == {
        "label": "b12dx questionnaire for the patient",
        "url": f"{PUBLIC}/questionnaire",
        "type": "absolute",
    }
    assert link["type"] == "absolute"
    assert link["url"].startswith(f"{PUBLIC}/clinician?context=")
    token = link["url"].split("context=", 1)[1]
    ctx = read_context(token, secret=SECRET, ttl_s=60)
    assert ctx.patient == "Patient/scn1" and ctx.case["age"] > 16
    assert ctx.hook == "patient-view"


def test_indicator_follows_triage(
    client: TestClient, signer: Signer, resources: list[dict[str, Any]], kb: KnowledgeBase
) -> None:
    from b12dx.assessment import assess
    from b12dx.fhir import case_from_fhir

    resp = client.post(
        f"/cds-services/{PV}", headers=_auth(signer), json=_request(prefetch=_prefetch(resources))
    )
    [card] = resp.json()["cards"]
    expected = assess(case_from_fhir(list(_prefetch(resources).values()), kb=kb).case, kb=kb)
    assert card["indicator"] == cds.INDICATOR[expected.triage.level]


def test_prefetch_absent_is_fetched_with_the_bearer_token(
    client: TestClient, signer: Signer, fhir: FhirServer, resources: list[dict[str, Any]]
) -> None:
    full = client.post(
        f"/cds-services/{PV}", headers=_auth(signer), json=_request(prefetch=_prefetch(resources))
    ).json()["cards"]
    before = len(fhir.requests)
    resp = client.post(
        f"/cds-services/{PV}",
        headers=_auth(signer),
        json=_request(
            fhirServer=fhir.url,
            fhirAuthorization={
                "access_token": "tok-123",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "b12dx",
            },
        ),
    )
    assert resp.status_code == 200, resp.text
    made = [(p, a) for p, a in fhir.requests[before:] if p.startswith("/fhir/")]
    assert len(made) == 4
    assert all(auth == "Bearer tok-123" for _, auth in made)
    assert any(path.startswith("/fhir/Patient/scn1") for path, _ in made)
    [card] = resp.json()["cards"]
    assert card["summary"] == full[0]["summary"]
    assert card["indicator"] == full[0]["indicator"]


def test_partial_prefetch_fetches_only_what_is_missing(
    client: TestClient, signer: Signer, fhir: FhirServer, resources: list[dict[str, Any]]
) -> None:
    prefetch = _prefetch(resources)
    partial = {
        "patient": prefetch["patient"],
        "conditions": None,
        "medications": {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "exception"}],
        },
    }
    before = len(fhir.requests)
    resp = client.post(
        f"/cds-services/{PV}",
        headers=_auth(signer),
        json=_request(prefetch=partial, fhirServer=fhir.url),
    )
    assert resp.status_code == 200
    paths = [p for p, _ in fhir.requests[before:] if p.startswith("/fhir/")]
    assert len(paths) == 2  # observations (absent) and medications (OperationOutcome)
    assert any(p.startswith("/fhir/Observation?") for p in paths)
    assert any(p.startswith("/fhir/MedicationRequest?") for p in paths)
    assert resp.json()["cards"]


def test_searchset_pages_are_followed(
    kb: KnowledgeBase, signer: Signer, resources: list[dict[str, Any]]
) -> None:
    server = FhirServer(resources, jwks=signer.jwks, page_size=2)
    with server.running():
        app = make_app(
            kb, public_url=PUBLIC, launch_secret=SECRET, cds_issuers={signer.iss: signer.jwks}
        )
        prefetch = _prefetch(resources)
        del prefetch["observations"]
        resp = TestClient(app).post(
            f"/cds-services/{PV}",
            headers=_auth(signer),
            json=_request(prefetch=prefetch, fhirServer=server.url),
        )
    assert resp.status_code == 200
    pages = [p for p, _ in server.requests if p.startswith("/fhir/Observation")]
    assert len(pages) > 1 and any("_page=1" in p for p in pages)


def test_no_card_when_the_record_says_nothing(
    client: TestClient, signer: Signer, resources: list[dict[str, Any]]
) -> None:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    resp = client.post(
        f"/cds-services/{PV}",
        headers=_auth(signer),
        json=_request(
            prefetch={
                "patient": patient,
                "observations": None,
                "medications": None,
                "conditions": None,
            }
        ),
    )
    assert resp.json() == {"cards": [], "systemActions": []}


def test_no_card_without_sex(
    client: TestClient, signer: Signer, resources: list[dict[str, Any]]
) -> None:
    prefetch = _prefetch(resources)
    prefetch["patient"] = {"resourceType": "Patient", "id": "scn1", "birthDate": "1958-05-14"}
    resp = client.post(
        f"/cds-services/{PV}", headers=_auth(signer), json=_request(prefetch=prefetch)
    )
    assert resp.status_code == 200 and resp.json()["cards"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_request(hook="order-sign"), "answers the 'patient-view' hook"),
        (_request(context={"userId": "Practitioner/1"}), "context.patientId"),
        (
            _request(
                fhirAuthorization={
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 1,
                    "scope": "x",
                    "subject": "y",
                }
            ),
            "requires fhirServer",
        ),
    ],
)
def test_bad_requests_are_422(
    client: TestClient, signer: Signer, body: dict[str, Any], message: str
) -> None:
    resp = client.post(f"/cds-services/{PV}", headers=_auth(signer), json=body)
    assert resp.status_code == 422
    assert message in resp.json()["detail"]


def test_unknown_service_is_404(client: TestClient, signer: Signer) -> None:
    resp = client.post("/cds-services/nope", headers=_auth(signer, "nope"), json=_request())
    assert resp.status_code == 404


# -- order-select --------------------------------------------------------------------------


def _draft(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


METFORMIN = {
    "resourceType": "MedicationRequest",
    "id": "new-met",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/scn1"},
    "medicationCodeableConcept": {"text": "Metformin 500 mg tablets"},
}
AMOXICILLIN = {
    "resourceType": "MedicationRequest",
    "id": "new-amox",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/scn1"},
    "medicationCodeableConcept": {"text": "Amoxicillin 500 mg capsules"},
}
B12_TEST = {
    "resourceType": "ServiceRequest",
    "id": "new-b12",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/scn1"},
    "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
}


@pytest.mark.parametrize(
    ("orders", "selections", "prefix"),
    [
        ([METFORMIN], ["MedicationRequest/new-met"], "Prescribing"),
        ([B12_TEST], ["ServiceRequest/new-b12"], "Ordering"),
        ([AMOXICILLIN], ["MedicationRequest/new-amox"], None),
        ([METFORMIN, AMOXICILLIN], ["MedicationRequest/new-amox"], None),
    ],
)
def test_order_select_fires_on_relevant_orders(
    client: TestClient,
    signer: Signer,
    resources: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    selections: list[str],
    prefix: str | None,
) -> None:
    body = _request(hook="order-select", prefetch=_prefetch(resources))
    body["context"].update({"selections": selections, "draftOrders": _draft(*orders)})
    resp = client.post(f"/cds-services/{OS}", headers=_auth(signer, OS), json=body)
    assert resp.status_code == 200, resp.text
    cards = resp.json()["cards"]
    if prefix is None:
        assert cards == []
    else:
        [card] = cards
        assert card["summary"].startswith(prefix) and len(card["summary"]) < 140


# -- authentication ------------------------------------------------------------------------


def _hs256(aud: str) -> str:
    import jwt

    return jwt.encode(
        {
            "iss": "https://ehr.example.org",
            "aud": aud,
            "exp": time.time() + 60,
            "iat": time.time(),
            "jti": str(uuid.uuid4()),
        },
        "shared-secret" * 4,
        algorithm="HS256",
    )


def _alg_none(aud: str) -> str:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return (
        b64({"alg": "none", "typ": "JWT"})
        + "."
        + b64(
            {
                "iss": "https://ehr.example.org",
                "aud": aud,
                "exp": time.time() + 60,
                "iat": time.time(),
                "jti": str(uuid.uuid4()),
            }
        )
        + "."
    )


AUD = f"{PUBLIC}/cds-services/{PV}"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: None, "needs 'Authorization: Bearer"),
        (lambda s: "Bearer not.a.jwt", "not a well-formed JWT"),
        (lambda s: f"Bearer {_hs256(AUD)}", "algorithm 'HS256' is not accepted"),
        (lambda s: f"Bearer {_alg_none(AUD)}", "algorithm 'none' is not accepted"),
        (lambda s: f"Bearer {s.token(f'{PUBLIC}/cds-services/other')}", "'aud'"),
        (lambda s: f"Bearer {s.token(AUD, exp_in=-3600)}", "expired"),
        (lambda s: f"Bearer {Signer(iss='https://rogue.example').token(AUD)}", "allow-list"),
        (lambda s: f"Bearer {Signer(iss=s.iss).token(AUD)}", "signature"),
        (lambda s: f"Bearer {s.token(AUD, headers={'jku': 'https://rogue.example/jwks'})}", "jku"),
        (lambda s: f"Bearer {s.token(AUD, headers={'kid': 'other-key'})}", "kid"),
    ],
)
def test_jwt_is_checked(client: TestClient, signer: Signer, make: Any, message: str) -> None:
    header = make(signer)
    headers = {"Authorization": header} if header else {}
    resp = client.post(f"/cds-services/{PV}", headers=headers, json=_request())
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert resp.headers["content-type"] == "application/problem+json"
    assert message in resp.json()["detail"]


def test_jwt_without_jti_is_refused(client: TestClient, signer: Signer) -> None:
    import jwt

    token = jwt.encode(
        {"iss": signer.iss, "aud": AUD, "iat": int(time.time()), "exp": int(time.time()) + 60},
        signer.key,
        algorithm="ES384",
        headers={"kid": signer.kid},
    )
    resp = client.post(
        f"/cds-services/{PV}", headers={"Authorization": f"Bearer {token}"}, json=_request()
    )
    assert resp.status_code == 401 and "'jti'" in resp.json()["detail"]


def test_replayed_jti_is_refused(client: TestClient, signer: Signer) -> None:
    token = signer.token(AUD, jti="once-only")
    first = client.post(
        f"/cds-services/{PV}", headers={"Authorization": f"Bearer {token}"}, json=_request()
    )
    again = client.post(
        f"/cds-services/{PV}", headers={"Authorization": f"Bearer {token}"}, json=_request()
    )
    assert first.status_code == 200
    assert again.status_code == 401 and "replay" in again.json()["detail"]


def test_registered_jku_and_inline_jwks_are_accepted(
    kb: KnowledgeBase, signer: Signer, fhir: FhirServer
) -> None:
    jwks_url = f"{_root(fhir)}/jwks.json"
    c = TestClient(make_app(kb, public_url=PUBLIC, cds_issuers={signer.iss: jwks_url}))
    ok = c.post(
        f"/cds-services/{PV}",
        json=_request(),
        headers={"Authorization": f"Bearer {signer.token(AUD, headers={'jku': jwks_url})}"},
    )
    assert ok.status_code == 200
    inline = TestClient(make_app(kb, public_url=PUBLIC, cds_issuers={signer.iss: signer.jwks}))
    assert (
        inline.post(f"/cds-services/{PV}", json=_request(), headers=_auth(signer)).status_code
        == 200
    )


def test_dev_mode_without_auth_warns(
    kb: KnowledgeBase, caplog: pytest.LogCaptureFixture, resources: list[dict[str, Any]]
) -> None:
    caplog.set_level(logging.WARNING, logger="b12dx.service")
    app = make_app(kb, public_url=PUBLIC, cds_dev_no_auth=True)
    assert any("authentication is OFF" in r.getMessage() for r in caplog.records)
    resp = TestClient(app).post(f"/cds-services/{PV}", json=_request(prefetch=_prefetch(resources)))
    assert resp.status_code == 200 and resp.json()["cards"]


def test_auth_is_on_by_default() -> None:
    from b12dx.service.settings import Settings

    assert Settings.from_env({}).cds_dev_no_auth is False


# -- feedback ------------------------------------------------------------------------------


def test_feedback_is_recorded(
    client: TestClient, app: FastAPI, signer: Signer, tmp_path: Any
) -> None:
    body = {
        "feedback": [
            {
                "card": str(uuid.uuid4()),
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
                "outcomeTimestamp": "2026-10-01T10:00:00Z",
            },
            {
                "card": str(uuid.uuid4()),
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "code": "not-relevant",
                        "system": "https://b12dx.org/fhir/CodeSystem/override-reason",
                    },
                    "userComment": "seen by neurology",
                },
                "outcomeTimestamp": "2026-10-01T10:05:00Z",
            },
        ]
    }
    resp = client.post(f"/cds-services/{PV}/feedback", headers=_auth(signer), json=body)
    assert resp.status_code == 200 and resp.json() == {"recorded": 2}
    items = list(app.state.cds.feedback.items)
    assert [i["outcome"] for i in items] == ["accepted", "overridden"]
    assert items[1]["override_reason"] == "not-relevant"
    unauth = client.post(f"/cds-services/{PV}/feedback", json=body)
    assert unauth.status_code == 401


def test_feedback_file(kb: KnowledgeBase, tmp_path: Any) -> None:
    path = tmp_path / "feedback.jsonl"
    c = TestClient(make_app(kb, cds_dev_no_auth=True, feedback_path=str(path)))
    c.post(
        f"/cds-services/{OS}/feedback",
        json={
            "feedback": [
                {"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-10-01T10:00:00Z"}
            ]
        },
    )
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["service"] == OS


# -- launch tokens -------------------------------------------------------------------------


def test_launch_token_round_trip_and_tamper() -> None:
    ctx = LaunchContext(case={"age": 60, "sex": "male"}, patient="Patient/1")
    token = issue_context(ctx, secret=SECRET)
    assert read_context(token, secret=SECRET, ttl_s=60) == ctx
    with pytest.raises(LaunchTokenError):
        read_context(token, secret="another-secret", ttl_s=60)
    with pytest.raises(LaunchTokenError):
        read_context(token[:-4] + "AAAA", secret=SECRET, ttl_s=60)
    old = LaunchContext(case={"age": 60, "sex": "male"})
    from cryptography.fernet import Fernet

    from b12dx.service import launch

    stale = launch._fernet(SECRET).encrypt_at_time(
        __import__("zlib").compress(old.model_dump_json().encode()), int(time.time()) - 3600
    )
    assert isinstance(launch._fernet(SECRET), Fernet)
    with pytest.raises(LaunchTokenError, match="expired"):
        read_context(stale.decode(), secret=SECRET, ttl_s=900)


def test_launch_dependency_for_the_web_app(kb: KnowledgeBase) -> None:
    app = make_app(kb, launch_secret=SECRET)
    router = APIRouter()

    @router.get("/probe")
    def probe(ctx: LaunchContextDep) -> dict[str, Any]:
        return {"patient": ctx.patient}

    app.include_router(router)
    c = TestClient(app)
    token = issue_context(LaunchContext(case={}, patient="Patient/9"), secret=SECRET)
    assert c.get("/probe", params={"context": token}).json() == {"patient": "Patient/9"}
    bad = c.get("/probe", params={"context": "x" * 40})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_jwks_is_401(kb: KnowledgeBase, signer: Signer) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/jwks.json"
    c = TestClient(make_app(kb, public_url=PUBLIC, cds_issuers={signer.iss: url}))
    resp = c.post(f"/cds-services/{PV}", headers=_auth(signer), json=_request())
    assert resp.status_code == 401 and "could not be fetched" in resp.json()["detail"]


def test_unreachable_fhir_server_degrades_gracefully(
    client: TestClient, signer: Signer, resources: list[dict[str, Any]]
) -> None:
    prefetch = _prefetch(resources)
    del prefetch["observations"]
    resp = client.post(
        f"/cds-services/{PV}",
        headers=_auth(signer),
        json=_request(prefetch=prefetch, fhirServer=f"http://127.0.0.1:{_closed_port()}/fhir"),
    )
    assert resp.status_code == 200
    [card] = resp.json()["cards"]  # medications and conditions still say something
    assert card["summary"]


def test_fhir_server_outside_the_allow_list_is_not_called(
    kb: KnowledgeBase, signer: Signer, fhir: FhirServer, resources: list[dict[str, Any]]
) -> None:
    c = TestClient(
        make_app(
            kb,
            public_url=PUBLIC,
            cds_issuers={signer.iss: signer.jwks},
            fhir_allow=("https://fhir.trusted.example/",),
        )
    )
    before = len(fhir.requests)
    resp = c.post(f"/cds-services/{PV}", headers=_auth(signer), json=_request(fhirServer=fhir.url))
    assert resp.status_code == 200 and resp.json()["cards"] == []
    assert fhir.requests[before:] == []


def test_fhir_server_must_be_a_url(kb: KnowledgeBase) -> None:
    c = TestClient(make_app(kb, cds_dev_no_auth=True))
    resp = c.post(f"/cds-services/{PV}", json=_request(fhirServer="file:///etc/passwd"))
    assert resp.status_code == 422 and "http(s) URL" in resp.json()["detail"]
    odd = c.post(f"/cds-services/{PV}", json=_request(fhirServer="http://[::1"))
    assert odd.status_code == 200 and odd.json()["cards"] == []
