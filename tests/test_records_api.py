"""The records API: tokens, per-user isolation on every endpoint, concurrency, the timeline page."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from b12dx.service.app import create_app
from b12dx.service.routers import records
from b12dx.store import open_store
from b12dx.store.repo import Store

pytest_plugins = ("conftest_pg",)

ADMIN = "admin-token-for-tests-only"
D0 = dt.date(2025, 2, 3)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app()
    app.state.b12dx_store = store
    app.state.b12dx_admin_token = ADMIN
    with TestClient(app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_user(client: TestClient, name: str, *, admin: bool = False) -> str:
    r = client.post("/v1/users", json={"name": name, "admin": admin}, headers=auth(ADMIN))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert isinstance(token, str)
    return token


def _user_id(store: Store, token: str) -> int:
    user = store.user_for_token(token)
    assert user is not None
    return user.id


def seed(client: TestClient, token: str, ref: str) -> dict[str, Any]:
    """A person with one record of every kind; returns what was created."""
    h = auth(token)
    assert client.post("/v1/people", json={"ref": ref, "sex": "female"}, headers=h).is_success
    lab = client.post(
        f"/v1/people/{ref}/labs",
        headers=h,
        json={
            "test": "b12_total",
            "value": 140,
            "unit": "ng/L",
            "date": str(D0),
            "note": f"secret-note-{ref}",
        },
    ).json()
    client.post(
        f"/v1/people/{ref}/symptoms",
        headers=h,
        json={"date": str(D0), "cramps_per_week": 4, "worst_severity": 6},
    )
    course = client.post(
        f"/v1/people/{ref}/treatments",
        headers=h,
        json={
            "started_on": str(D0),
            "route": "oral",
            "product": "cyanocobalamin",
            "dose": "1000 micrograms",
            "frequency": "daily",
        },
    ).json()
    return {"lab": lab, "course": course}


# -- users and tokens ------------------------------------------------------------------------


def test_only_an_admin_creates_users(client: TestClient) -> None:
    assert client.post("/v1/users", json={"name": "x"}).status_code == 401
    assert client.post("/v1/users", json={"name": "x"}, headers=auth("wrong")).status_code == 401
    user = new_user(client, "plain")
    assert client.post("/v1/users", json={"name": "y"}, headers=auth(user)).status_code == 403
    boss = new_user(client, "boss", admin=True)
    assert client.post("/v1/users", json={"name": "z"}, headers=auth(boss)).status_code == 201
    r = client.post("/v1/users", json={"name": "z"}, headers=auth(ADMIN))
    assert r.status_code == 422 and "already exists" in r.json()["detail"]
    assert client.get("/v1/me", headers=auth(user)).json()["name"] == "plain"


def test_a_user_can_replace_their_token(client: TestClient) -> None:
    old = new_user(client, "rotator")
    r = client.post("/v1/me/token", headers=auth(old))
    new = r.json()["token"]
    assert r.status_code == 200 and new != old
    assert client.get("/v1/me", headers=auth(old)).status_code == 401
    assert client.get("/v1/me", headers=auth(new)).json()["name"] == "rotator"


def test_only_an_admin_lists_users(client: TestClient) -> None:
    user = new_user(client, "plain")
    assert client.get("/v1/users", headers=auth(user)).status_code == 403
    names = [u["name"] for u in client.get("/v1/users", headers=auth(ADMIN)).json()]
    assert names == ["plain"]


def test_tokens_are_never_stored(client: TestClient, store: Store) -> None:
    token = new_user(client, "u1")
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM users")).all()
    assert token not in repr(rows)


def _routes() -> list[tuple[str, str]]:
    out = []
    for route in records.router.routes:
        for method in sorted(getattr(route, "methods", set()) - {"HEAD"}):
            out.append((method, getattr(route, "path", "")))
    return out


PUBLIC = {("GET", "/records"), ("GET", "/records/timeline.js")}


@pytest.mark.parametrize(("method", "path"), [r for r in _routes() if r not in PUBLIC])
def test_every_endpoint_needs_a_valid_token(client: TestClient, method: str, path: str) -> None:
    url = path.replace("{ref}", "p1").replace("{uid}", "0" * 32).replace("{fmt}", "svg")
    for headers in ({}, auth("b12dx_not-a-real-token"), {"Authorization": "Basic abc"}):
        r = client.request(method, url, headers=headers, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"


# -- isolation -------------------------------------------------------------------------------

BODIES: dict[tuple[str, str], Any] = {
    ("GET", "/v1/people/{ref}"): None,
    ("PATCH", "/v1/people/{ref}"): {"pregnant": False},
    ("GET", "/v1/people/{ref}/timeline"): None,
    ("POST", "/v1/people/{ref}/labs"): {
        "test": "b12_total",
        "value": 300,
        "unit": "ng/L",
        "date": str(D0),
    },
    ("POST", "/v1/people/{ref}/symptoms"): {"date": str(D0), "cramps_per_week": 1},
    ("POST", "/v1/people/{ref}/treatments"): {
        "started_on": str(D0),
        "route": "oral",
        "product": "x",
        "dose": "1",
        "frequency": "d",
    },
    ("POST", "/v1/people/{ref}/treatments/{uid}/stop"): {"stopped_on": str(D0)},
    ("POST", "/v1/people/{ref}/assessments"): {"age": 60, "sex": "female"},
    ("POST", "/v1/people/{ref}/reviews"): {"date": str(D0), "outcome": "worse"},
    ("GET", "/v1/people/{ref}/review"): None,
    ("GET", "/v1/people/{ref}/plot.{fmt}"): None,
    ("GET", "/v1/people/{ref}/export"): None,
}


def test_the_isolation_table_covers_every_person_endpoint() -> None:
    assert {r for r in _routes() if "{ref}" in r[1]} == set(BODIES)


@pytest.mark.parametrize(("method", "path"), sorted(BODIES))
def test_one_user_cannot_reach_another_users_person(
    client: TestClient, store: Store, method: str, path: str
) -> None:
    alice, bob = new_user(client, "alice"), new_user(client, "bob")
    made = seed(client, alice, "alice-1")
    seed(client, bob, "bob-1")
    alice_id = _user_id(store, alice)
    before = store.timeline("alice-1", owner=alice_id)
    for ref, uid in (
        ("alice-1", made["course"]["uid"]),  # alice's person, alice's course
        ("bob-1", made["course"]["uid"]),
    ):  # bob's person, alice's course
        if "{uid}" not in path and ref == "bob-1":
            continue
        url = path.replace("{ref}", ref).replace("{uid}", uid).replace("{fmt}", "svg")
        r = client.request(method, url, headers=auth(bob), json=BODIES[(method, path)])
        assert r.status_code == 404, (url, r.status_code, r.text)
        assert "secret-note" not in r.text and made["lab"]["uid"] not in r.text
    assert store.timeline("alice-1", owner=alice_id) == before  # nothing changed


def test_listing_and_export_show_only_your_people(client: TestClient) -> None:
    alice, bob = new_user(client, "alice"), new_user(client, "bob")
    made = seed(client, alice, "alice-1")
    seed(client, bob, "bob-1")
    assert [p["ref"] for p in client.get("/v1/people", headers=auth(bob)).json()] == ["bob-1"]
    export = client.get("/v1/records/export", headers=auth(bob)).text
    assert "bob-1" in export and "alice-1" not in export and made["lab"]["uid"] not in export


def test_importing_someone_elses_export_cannot_touch_their_records(
    client: TestClient, store: Store
) -> None:
    alice, bob = new_user(client, "alice"), new_user(client, "bob")
    seed(client, alice, "alice-1")
    before = store.timeline("alice-1", owner=_user_id(store, alice))
    stolen = client.get("/v1/records/export", headers=auth(alice)).text
    r = client.post(
        "/v1/records/import",
        headers={**auth(bob), "Content-Type": "application/x-ndjson"},
        content=stolen,
    )
    assert r.status_code == 200 and r.json()["added"] == 0
    assert len(r.json()["rejected"]) == len(stolen.splitlines()) - 1
    assert client.get("/v1/people", headers=auth(bob)).json() == []
    assert store.timeline("alice-1", owner=_user_id(store, alice)) == before


# -- the endpoints work ----------------------------------------------------------------------


def test_record_review_plot_export_import(client: TestClient) -> None:
    token = new_user(client, "clin")
    h = auth(token)
    made = seed(client, token, "p1")
    r = client.post(
        f"/v1/people/p1/treatments/{made['course']['uid']}/stop",
        headers=h,
        json={"stopped_on": str(D0 + dt.timedelta(days=10)), "reason": "switch"},
    )
    assert r.status_code == 200 and r.json()["stopped_on"] == str(D0 + dt.timedelta(days=10))
    r = client.post(
        "/v1/people/p1/labs",
        headers=h,
        json={"test": "b12_total", "value": 140, "unit": "parsec", "date": str(D0)},
    )
    assert r.status_code == 422 and "accepted units" in r.json()["detail"]
    review = client.get(
        "/v1/people/p1/review", headers=h, params={"as_of": str(D0 + dt.timedelta(days=5))}
    ).json()
    assert review["person"] == "p1" and review["course"]["product"] == "cyanocobalamin"
    png = client.get("/v1/people/p1/plot.png", headers=h)
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = client.get("/v1/people/p1/plot.svg", headers=h)
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert client.get("/v1/people/p1/plot.gif", headers=h).status_code == 422
    export = client.get("/v1/people/p1/export", headers=h).text
    other = new_user(client, "other")
    r = client.post("/v1/records/import", headers=auth(other), content=export)
    assert r.status_code == 200 and r.json()["rejected"]  # uids belong to clin's records
    fresh = [json.loads(line) for line in export.splitlines()]
    for rec in fresh:
        rec.pop("uid", None)
    body = "\n".join(json.dumps(rec) for rec in fresh)
    r = client.post("/v1/records/import", headers=auth(other), content=body)
    assert r.json()["added"] == len(fresh) - 1 and r.json()["rejected"] == []


def test_timeline_page_extends_the_site_and_keeps_a_strict_csp(client: TestClient) -> None:
    r = client.get("/records")
    assert r.status_code == 200
    assert "Treatment timeline" in r.text and 'class="site-header"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script>" not in r.text  # no inline script
    js = client.get("/records/timeline.js")
    assert js.status_code == 200 and "textContent" in js.text and "innerHTML" not in js.text


# -- 16 concurrent clients through a real server ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(600)
def test_sixteen_concurrent_clients_lose_no_record(store: Store) -> None:
    import uvicorn

    app = create_app()
    app.state.b12dx_store = store
    app.state.b12dx_admin_token = ADMIN
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # wait for the socket; no timing is asserted
        assert thread.is_alive()
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    clients, per_client, users = 16, 12, 4
    tokens = []
    with httpx.Client(base_url=base, timeout=120) as admin:
        for u in range(users):
            r = admin.post("/v1/users", json={"name": f"user{u}"}, headers=auth(ADMIN))
            tokens.append(r.json()["token"])
            admin.post("/v1/people", json={"ref": "shared"}, headers=auth(tokens[-1]))
    written: dict[int, list[tuple[str, str]]] = {}
    failures: list[str] = []
    start = threading.Barrier(clients)

    def work(i: int) -> None:
        token = tokens[i % users]
        mine: list[tuple[str, str]] = []
        with httpx.Client(base_url=base, timeout=120, headers=auth(token)) as c:
            start.wait()
            r = c.post("/v1/people", json={"ref": f"c{i}"})
            if r.status_code != 201:
                failures.append(f"client {i}: person {r.status_code} {r.text}")
                return
            for k in range(per_client):
                day = str(D0 + dt.timedelta(days=k))
                r1 = c.post(
                    f"/v1/people/c{i}/labs",
                    json={"test": "b12_total", "value": 100 + k, "unit": "ng/L", "date": day},
                )
                r2 = c.post(
                    "/v1/people/shared/symptoms",
                    json={"date": day, "cramps_per_week": i, "note": f"c{i}-{k}"},
                )
                for r in (r1, r2):
                    if r.status_code != 201:
                        failures.append(f"client {i}: {r.status_code} {r.text}")
                    else:
                        mine.append((r.request.url.path, r.json()["uid"]))
        written[i] = mine

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.should_exit = True
    thread.join()
    assert failures == []
    counts = store.counts()
    assert counts["labs"] == clients * per_client
    assert counts["symptoms"] == clients * per_client
    assert counts["people"] == clients + users
    for u, token in enumerate(tokens):
        owner = store.user_for_token(token)
        assert owner is not None
        shared = store.timeline("shared", owner=owner.id)
        expected = {
            uid
            for i, recs in written.items()
            if i % users == u
            for path, uid in recs
            if path.endswith("/symptoms")
        }
        assert {s.uid for s in shared.symptoms} == expected
    for i, recs in written.items():
        owner = store.user_for_token(tokens[i % users])
        assert owner is not None
        labs = {lab.uid for lab in store.timeline(f"c{i}", owner=owner.id).labs}
        assert labs == {uid for path, uid in recs if path.endswith("/labs")}


CASE = {
    "age": 67,
    "sex": "female",
    "evidence": [{"id": "muscle_cramps", "initial": True}, {"id": "paresthesia_feet"}],
    "medications": [{"name": "metformin", "years": 6}],
    "labs": [{"test": "b12_total", "value": 150, "unit": "ng/L"}],
}


def test_an_assessment_is_made_by_assess_and_stored(client: TestClient) -> None:
    import b12dx

    token = new_user(client, "assessor")
    h = auth(token)
    client.post("/v1/people", json={"ref": "p1"}, headers=h)
    r = client.post("/v1/people/p1/assessments", json=CASE, headers=h, params={"date": str(D0)})
    assert r.status_code == 201, r.text
    expected = b12dx.assess(CASE)
    assert r.json()["triage_level"] == expected.triage.level
    assert r.json()["top_cause"] == expected.top_cause.id
    stored = client.get("/v1/people/p1/timeline", headers=h).json()["assessments"]
    assert stored[0]["data"]["schema"] == "b12dx/assessment/v1"
    bad = client.post("/v1/people/p1/assessments", json={"age": 5, "sex": "female"}, headers=h)
    assert bad.status_code == 422
