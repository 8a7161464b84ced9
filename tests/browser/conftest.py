"""Browser tests: the real server (uvicorn, loopback, a free port) and Debian's Chromium.

Run them with ``pytest tests/browser``. Set ``B12DX_SCREENSHOTS=docs/screenshots`` to write the
screenshots shown in the README while the scenarios run.

The server runs in a subprocess (``uvicorn --factory b12dx.service.app:create_served_app``) so
that it is exactly what ``b12dx serve`` runs; Chromium is Debian's ``/usr/bin/chromium``
(Playwright's own browser download is never used). When Chromium or Playwright is missing the
tests are skipped, except under CI (``CI=true``), where that is an error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("B12DX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAUNCH_SECRET = "browser-tests-launch-secret-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: browser tests must run)")
    pytest.skip(reason)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The b12dx service on 127.0.0.1 in a subprocess; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "B12DX_LAUNCH_SECRET": LAUNCH_SECRET, "PYTHONUNBUFFERED": "1"}
    log = (ROOT / ".pytest_cache").joinpath(f"browser-server-{port}.log")
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "b12dx.service.app:create_served_app",
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
            cwd=ROOT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def launch_secret() -> str:
    """The key the test server seals launch tokens with (``B12DX_LAUNCH_SECRET``)."""
    return LAUNCH_SECRET


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh desktop-sized page; console errors and CSP violations fail the test."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    # 404 from the optional /v1/parse probe and 422 form replies are expected; scripts must not fail
    bad = [e for e in errors if "status of 4" not in e]
    assert not bad, f"browser console errors: {bad}"


@pytest.fixture()
def phone(browser: Any, server: str) -> Iterator[Any]:
    """A 375-pixel-wide phone page (iPhone SE/8 class), touch enabled."""
    context = browser.new_context(
        base_url=server,
        viewport={"width": 375, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def shots() -> Path | None:
    """Where to save screenshots (``B12DX_SCREENSHOTS``), or None."""
    target = os.environ.get("B12DX_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path
