"""The timeline page in a real browser (Debian's Chromium via Playwright) against a real server.

The server is what ``b12dx serve`` runs (uvicorn, ``create_app``) with its own SQLite store; the
page must show only the token holder's people, the follow-up review, the plot image and the
record tables, without console errors (the page runs under a strict CSP).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("B12DX_CHROMIUM", "/usr/bin/chromium")
ADMIN = "browser-admin-token"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    db = tmp_path_factory.mktemp("records") / "records.sqlite3"
    env = {**os.environ, "B12DX_DATABASE_URL": f"sqlite:///{db}", "B12DX_ADMIN_TOKEN": ADMIN}
    log = db.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "b12dx.service:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:  # wait for the socket (no timing is asserted)
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/v1/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _user(base: str, name: str) -> str:
    r = httpx.post(
        base + "/v1/users", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _seed(base: str, token: str, ref: str) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.post(
            "/v1/people", json={"ref": ref, "sex": "female", "conditions": ["autoimmune_gastritis"]}
        ).is_success
        for day, value in (("2025-01-05", 120), ("2025-03-20", 410)):
            assert c.post(
                f"/v1/people/{ref}/labs",
                json={"test": "b12_total", "value": value, "unit": "ng/L", "date": day},
            ).is_success
        for day, cramps, tingling, note in (
            ("2025-01-05", 6, 1, "<img src=x onerror=alert(1)>"),
            ("2025-03-01", 2, 3, "pins and needles worse"),
        ):
            assert c.post(
                f"/v1/people/{ref}/symptoms",
                json={
                    "date": day,
                    "cramps_per_week": cramps,
                    "worst_severity": cramps + 1,
                    "tingling_numbness": tingling,
                    "note": note,
                },
            ).is_success
        assert c.post(
            f"/v1/people/{ref}/treatments",
            json={
                "started_on": "2025-01-06",
                "route": "intramuscular",
                "product": "hydroxocobalamin",
                "dose": "1 mg",
                "frequency": "alternate days",
            },
        ).is_success


def test_the_timeline_page_shows_your_person(server: str, browser: Any) -> None:
    mine, theirs = _user(server, "clinic-a"), _user(server, "clinic-b")
    _seed(server, mine, "anna")
    _seed(server, theirs, "other-person")
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto("/records")
    page.fill("#token", mine)
    page.click("#load-people")
    # (no wait_for_function: its string predicates need eval, which the page's CSP forbids)
    page.locator("#person:not([disabled])").wait_for()
    options = page.eval_on_selector_all("#person option", "els => els.map(e => e.value)")
    assert options == ["anna"]  # never the other clinic's person
    page.select_option("#person", "anna")
    page.fill("#as-of", "2025-03-21")
    page.click("#show")
    page.wait_for_selector("#review:not([hidden])")
    for _ in range(300):  # until the image has decoded; no timing is asserted
        if page.evaluate("document.getElementById('plot').naturalWidth") > 0:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("document.getElementById('plot').naturalWidth") > 0
    flags = page.inner_text("#flags")
    assert "URGENT" in flags  # tingling got worse on treatment
    assert "hydroxocobalamin" in page.inner_text("#course")
    assert page.locator("#labs-table tbody tr").count() == 2
    # the diary note is shown as text, never run as HTML
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#symptoms-table")
    assert dialogs == []
    assert errors == []
    if os.environ.get("B12DX_SCREENSHOTS"):
        shots = Path(os.environ["B12DX_SCREENSHOTS"])
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "timeline.png"), full_page=True)

    # a wrong token gets a message, not a page full of someone's data
    page.fill("#token", "b12dx_wrong")
    page.click("#load-people")
    page.locator("#status", has_text="Could not load people").wait_for()
    context.close()
