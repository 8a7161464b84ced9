"""Property-based testing of the records API: generated requests (with a valid token, so they
reach the handlers) never get a server error, on a real SQLite store."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

if os.environ.get("CI") == "true":
    import schemathesis  # in CI a missing dependency must fail, not skip
else:
    schemathesis = pytest.importorskip("schemathesis")

from b12dx.service.app import create_app
from b12dx.store import PersonIn, open_store

_DIR = Path(tempfile.mkdtemp(prefix="b12dx-fuzz-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
STORE = open_store(f"sqlite:///{_DIR / 'fuzz.sqlite3'}")
atexit.register(STORE.close)
USER, TOKEN = STORE.create_user("fuzzer")
STORE.add_person(PersonIn(ref="p1", sex="female"), owner=USER.id)
APP = create_app()
APP.state.b12dx_store = STORE
APP.state.b12dx_admin_token = "fuzz-admin-token"


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else str(value).encode("utf-8")


SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP).include(tag="records")


@SCHEMA.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_records_api_has_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[schemathesis.checks.not_a_server_error],
    )
