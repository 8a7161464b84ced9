"""Property-based testing of ``POST /v1/parse``: generated bodies never cause a server error."""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

if importlib.util.find_spec("medspacy") is None:  # pragma: no cover - without the nlp extra
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs the nlp extra: pip install -e '.[all,dev]'")
    pytest.skip("the nlp extra (medspacy) is not installed", allow_module_level=True)
if os.environ.get("CI") == "true":
    import schemathesis  # in CI a missing dependency must fail, not skip
else:
    schemathesis = pytest.importorskip("schemathesis")

from fastapi import FastAPI

from b12dx.kb import load_kb
from b12dx.service import problems
from b12dx.service.deps import get_kb
from b12dx.service.routers.parse import router


def _app() -> FastAPI:
    app = FastAPI()
    problems.install(app)
    app.include_router(router)
    kb = load_kb()
    app.dependency_overrides[get_kb] = lambda: kb
    return app


SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", _app())


@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_parse_never_fails_on_generated_input(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
