"""The REST API: assess, explain, interview, kb, FHIR endpoints, errors and hygiene."""

from __future__ import annotations

import json
import logging
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from b12dx.assessment import assess
from b12dx.kb import KnowledgeBase, load_kb
from service_support import ROOT, load_fixture, make_app, service_kb

SNAPSHOT = ROOT / "tests" / "snapshots" / "openapi.json"
CASE = {
    "id": "case-1",
    "age": 67,
    "sex": "female",
    "evidence": [{"id": "muscle_cramps", "initial": True}, {"id": "paresthesia_feet"}],
    "medications": [{"name": "metformin", "years": 6}],
    "labs": [{"test": "b12_total", "value": 190, "unit": "pg/mL"}],
}
WEB = "http://web.example:8080"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return service_kb()


@pytest.fixture(scope="module")
def client(kb: KnowledgeBase) -> TestClient:
    return TestClient(make_app(kb, web_origin=WEB, max_body_bytes=20_000))


def test_ping_and_health(client: TestClient, kb: KnowledgeBase) -> None:
    assert client.get("/v1/ping").json() == {"ok": True}
    health = client.get("/v1/health").json()
    assert health["kb_version"] == kb.version and health["kb_sha256"] == kb.sha256


@pytest.mark.parametrize("what", ["findings", "causes", "labs", "medications", "sources"])
def test_kb_catalogue(client: TestClient, kb: KnowledgeBase, what: str) -> None:
    items = client.get(f"/v1/kb/{what}").json()
    expected = {
        "findings": len([f for f in kb.findings if f.kind != "lab"]) + len(kb.risk_factors),
        "causes": len(kb.causes),
        "labs": len(kb.labs),
        "medications": len(kb.drug_classes),
        "sources": len(kb.sources),
    }[what]
    assert len(items) == expected
    assert all(isinstance(i["id"], str) for i in items)


def test_kb_version(client: TestClient, kb: KnowledgeBase) -> None:
    assert client.get("/v1/kb/version").json()["kb_version"] == kb.version


def test_dependency_override_swaps_the_kb(kb: KnowledgeBase) -> None:
    from b12dx.service.deps import get_kb

    mini = load_kb(ROOT / "tests" / "fixtures" / "mini_kb")
    app = make_app(kb)
    app.dependency_overrides[get_kb] = lambda: mini
    assert TestClient(app).get("/v1/kb/version").json()["kb_version"] == mini.version


def test_assess_gives_the_library_result(client: TestClient, kb: KnowledgeBase) -> None:
    resp = client.post("/v1/assess", json=CASE)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    expected = json.loads(assess(CASE, kb=kb).to_json())
    assert resp.json() == expected


@pytest.mark.parametrize("threads", [1, 2])
def test_compute_threads_give_the_same_answers(kb: KnowledgeBase, threads: int) -> None:
    """``B12DX_COMPUTE_THREADS=N`` (a thread pool, not the event loop): same answers, same 422."""
    with TestClient(make_app(kb, compute_threads=threads)) as pooled:
        resp = pooled.post("/v1/assess", json=CASE)
        assert resp.status_code == 200
        assert resp.json() == json.loads(assess(CASE, kb=kb).to_json())
        bad = pooled.post("/v1/explain", json={"case": CASE, "cause": "no_such_cause"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"


BAD_CASES: list[dict[str, Any]] = [
    {"age": 67, "sex": "x"},
    {"age": "old", "sex": "female"},
    {"age": 67, "sex": "female", "colour": "red"},
    {"age": 67, "sex": "female", "evidence": [{"id": "muscle_cramps", "state": "maybe"}]},
    {"age": 10, "sex": "female"},
    {"age": 67, "sex": "female", "evidence": [{"id": "cramp"}]},
    {"age": 67, "sex": "female", "labs": [{"test": "b12_total", "value": 190, "unit": "kg"}]},
    {"age": 67, "sex": "female", "medications": [{"name": "notadrug"}]},
    {"age": 67, "sex": "male", "pregnant": True},
]


@pytest.mark.parametrize("bad", BAD_CASES)
def test_bad_input_is_422_problem_json_with_the_cli_message(
    client: TestClient, bad: Any, tmp_path: Path
) -> None:
    from b12dx.cli import app as cli

    resp = client.post("/v1/assess", json=bad)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == 422 and body["title"] == "Unprocessable input"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    args = ["assess", str(path), "--format", "json"]
    if os.environ.get("B12DX_TEST_KB"):
        args += ["--kb", os.environ["B12DX_TEST_KB"]]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 2
    assert out.stderr.strip() == f"error: {body['detail']}"


def test_body_that_is_not_json_is_422(client: TestClient) -> None:
    resp = client.post(
        "/v1/assess", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = dict(CASE, id="x" * 30_000)
    resp = client.post("/v1/assess", json=big)
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"
    assert "20000 bytes" in resp.json()["detail"]


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 1000

    resp = client.post("/v1/assess", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413


def test_cors_only_for_the_web_origin(client: TestClient) -> None:
    pre = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = client.options("/v1/assess", headers={"Origin": WEB, **pre})
    assert ok.headers.get("access-control-allow-origin") == WEB
    other = client.options("/v1/assess", headers={"Origin": "http://evil.example", **pre})
    assert "access-control-allow-origin" not in other.headers
    simple = client.get("/v1/ping", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_no_cors_without_a_web_origin(kb: KnowledgeBase) -> None:
    c = TestClient(make_app(kb))
    resp = c.get("/v1/ping", headers={"Origin": WEB})
    assert "access-control-allow-origin" not in resp.headers


def test_no_case_content_in_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    marker = "Zq7marker"
    caplog.set_level(logging.DEBUG)
    case = dict(CASE, id=f"{marker}-id")
    client.post("/v1/assess", json=case)
    client.post("/v1/assess", json=dict(case, evidence=[{"id": f"{marker}_evidence"}]))
    client.post("/v1/assess", json=dict(case, sex=marker))
    client.post("/v1/explain", json={"case": case, "cause": f"{marker}_cause"})
    client.post("/v1/interview", json={"case": case, "answered": [marker]})
    client.post(f"/v1/assess?{marker}=1", json=case)
    client.post(
        "/v1/fhir/case",
        json={
            "resourceType": "Patient",
            "id": marker,
            "gender": "female",
            "birthDate": "1960-01-01",
        },
    )
    dev = TestClient(make_app(service_kb(), cds_dev_no_auth=True))
    dev.post(
        "/cds-services/b12dx-patient-view",
        json={
            "hook": "patient-view",
            "hookInstance": marker,
            "context": {"userId": "Practitioner/1", "patientId": marker},
            "prefetch": {
                "patient": {
                    "resourceType": "Patient",
                    "id": marker,
                    "gender": "female",
                    "birthDate": "1950-01-01",
                },
                "observations": None,
                "medications": None,
                "conditions": {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [
                        {
                            "resource": {
                                "resourceType": "Condition",
                                "id": marker,
                                "code": {"text": marker},
                            }
                        }
                    ],
                },
            },
        },
    )
    dev.post(
        "/cds-services/b12dx-patient-view/feedback",
        json={
            "feedback": [
                {
                    "card": marker,
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-10-01T10:00:00Z",
                    "overrideReason": {"userComment": marker},
                }
            ]
        },
    )
    assert any(r.name == "b12dx.service.access" for r in caplog.records)
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in server_side:
        text = record.getMessage() + repr(record.args) + str(record.exc_text or "")
        assert marker not in text, f"case content leaked into the log: {text}"


def test_explain(client: TestClient, kb: KnowledgeBase) -> None:
    resp = client.post("/v1/explain", json={"case": CASE, "cause": "b12_deficiency"})
    assert resp.status_code == 200
    body = resp.json()
    expected = next(c for c in assess(CASE, kb=kb).differential if c.id == "b12_deficiency")
    assert body == json.loads(expected.model_dump_json(by_alias=True))
    assert "for" in body and "against" in body


def test_explain_unknown_cause_suggests(client: TestClient) -> None:
    resp = client.post("/v1/explain", json={"case": CASE, "cause": "b12_deficency"})
    assert resp.status_code == 422
    assert "Did you mean 'b12_deficiency'" in resp.json()["detail"]


def test_interview_endpoint_starts_with_red_flags(client: TestClient, kb: KnowledgeBase) -> None:
    body = {"case": {"age": 50, "sex": "female", "evidence": [{"id": "muscle_cramps"}]}}
    step = client.post("/v1/interview", json=body).json()
    assert step["should_stop"] is False
    q = step["question"]
    assert q["kind"] == "red_flag"
    assert kb.finding_by_id[q["id"]].kind == "red_flag"
    assert q["text"] and q["rationale"]
    assert [o["value"] for o in q["options"]] == ["present", "absent", "unknown"]
    assert step["triage"]["level"] and step["differential"]


def test_fhir_case_endpoint(client: TestClient) -> None:
    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    resp = client.post("/v1/fhir/case?as_of=2026-10-01", json=data)
    assert resp.status_code == 200
    body = resp.json()
    assert body["case"]["age"] == 68
    assert body["patient"] == "Patient/scn1"
    assert any(i["resource"] == "Observation/k-error" for i in body["ignored"])


def test_fhir_assess_endpoint(client: TestClient) -> None:
    from b12dx.render.fhir import validate

    data = load_fixture("scenarios", "metformin-neuropathy-transaction.json")
    resp = client.post("/v1/fhir/assess?as_of=2026-10-01", json=data)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/fhir+json"
    bundle = resp.json()
    validate(bundle)
    types_ = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "RiskAssessment" in types_ and "GuidanceResponse" in types_
    [oo] = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "OperationOutcome"
    ]
    assert any("Observation/k-error" in i["diagnostics"] for i in oo["issue"])


def test_fhir_assess_without_sex_is_422(client: TestClient) -> None:
    resp = client.post(
        "/v1/fhir/assess", json={"resourceType": "Patient", "id": "p", "birthDate": "1960-01-01"}
    )
    assert resp.status_code == 422
    assert "Patient.gender" in resp.json()["detail"] or "no sex" in resp.json()["detail"]


def test_questionnaire_endpoint(client: TestClient) -> None:
    resp = client.get("/v1/fhir/Questionnaire")
    assert resp.headers["content-type"] == "application/fhir+json"
    assert resp.json()["resourceType"] == "Questionnaire"


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    resp = client.get("/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"


def test_optional_routers_are_included(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("b12dx.service.routers.parse")
    router = APIRouter()

    @router.get("/v1/fake-optional")
    def fake_route() -> dict[str, bool]:
        return {"fake": True}

    fake.router = router  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "b12dx.service.routers.parse", fake)
    app = make_app(kb)
    assert TestClient(app).get("/v1/fake-optional").json() == {"fake": True}


def test_openapi_snapshot(kb: KnowledgeBase) -> None:
    """The published API contract; refresh with B12DX_UPDATE_SNAPSHOTS=1 after a deliberate
    change (and review the diff)."""
    from b12dx.service.app import create_app
    from b12dx.service.settings import Settings

    doc = create_app(Settings(), optional_routers=False).openapi()
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if os.environ.get("B12DX_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
        if os.environ.get("CI") == "true":
            pytest.fail("the OpenAPI snapshot was missing in CI")
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == json.loads(text), (
        "the OpenAPI document changed: review it, then B12DX_UPDATE_SNAPSHOTS=1"
    )


def test_settings_defaults_and_environment() -> None:
    from b12dx.service.settings import Settings

    default = Settings.from_env({})
    assert (default.host, default.port, default.base_url) == (
        "127.0.0.1",
        8000,
        "http://127.0.0.1:8000",
    )
    env = Settings.from_env(
        {
            "B12DX_PORT": "9001",
            "B12DX_WEB_ORIGIN": WEB,
            "B12DX_CDS_ISSUERS": '{"https://ehr": "https://ehr/jwks"}',
        },
        public_url="https://b12dx.example.org/",
    )
    assert env.port == 9001 and env.web_origin == WEB
    assert env.base_url == "https://b12dx.example.org"
    assert env.cds_issuers == {"https://ehr": "https://ehr/jwks"}


def test_serve_command_runs_the_app(tmp_path: Path) -> None:
    import socket
    import subprocess
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "B12DX_PORT": str(port)}
    cmd = [sys.executable, "-m", "b12dx", "serve", "--log-level", "warning"]
    if os.environ.get("B12DX_TEST_KB"):
        cmd += ["--kb", os.environ["B12DX_TEST_KB"]]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/v1/ping", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "b12dx serve did not start"
                time.sleep(0.2)
        assert resp.json() == {"ok": True}
        doc = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert "/v1/assess" in doc["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_served_app_is_warmed_up_with_the_collector_tuned() -> None:
    """``b12dx serve`` runs ``create_served_app``: long-lived objects frozen, fewer young GCs,
    one BLAS thread.

    In a subprocess: ``gc.freeze`` and the threshold are process-wide.
    """
    import subprocess

    code = (
        "import gc, json\n"
        "from fastapi.testclient import TestClient\n"
        "from b12dx.service.app import GC_GEN0_THRESHOLD, create_served_app\n"
        "app = create_served_app()\n"
        "frozen = gc.get_freeze_count()\n"
        "r = TestClient(app).post('/v1/assess', json=json.loads(input()))\n"
        "from threadpoolctl import threadpool_info\n"
        "blas = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "print(json.dumps({'frozen': frozen, 'threshold': gc.get_threshold()[0],\n"
        "  'expected': GC_GEN0_THRESHOLD, 'status': r.status_code, 'blas': blas,\n"
        "  'top': r.json()['differential'][0]['id']}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if os.environ.get("B12DX_TEST_KB"):
        env["B12DX_KB_DIR"] = os.environ["B12DX_TEST_KB"]
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(CASE),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"] == 200
    assert got["frozen"] > 10_000  # the KB and the imported modules
    assert got["threshold"] == got["expected"]
    assert got["blas"] and set(got["blas"]) == {1}  # B12DX_BLAS_THREADS defaults to 1
    assert got["top"] == assess(CASE, kb=load_kb(os.environ.get("B12DX_TEST_KB"))).top_cause.id
