"""Errors as RFC 9457 problem details (``application/problem+json``), mapped in one place.

* b12dx ``InputError`` and request-validation errors -> 422, with the same message the CLI prints;
* other ``B12dxError`` -> their ``http_status`` (500 by default);
* ``HTTPException`` -> its status; anything unexpected -> 500 without internals.

Messages can quote the request (an unknown id, a value), so they go to the client only: the
log gets the status, the error class and the path, never the message or the body.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import B12dxError, InputError

__all__ = ["PROBLEM_JSON", "format_validation_errors", "install", "problem"]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://b12dx.org/problems/"
log = logging.getLogger("b12dx.service")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable input",
    500: "Internal error",
    502: "Upstream error",
}


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": _TYPE_BASE + (slug or str(status)),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def format_validation_errors(errors: Sequence[Any]) -> str:
    """Pydantic errors as the CLI words them (``b12dx.case.parse_case``): "loc: message; ..."."""
    parts = []
    for err in errors:
        loc_parts = [str(p) for p in err.get("loc", ())]
        if loc_parts and loc_parts[0] == "body":
            loc_parts = loc_parts[1:]
        loc = ".".join(loc_parts) or "case"
        msg = str(err.get("msg", "invalid"))
        kind = err.get("type")
        if kind == "extra_forbidden":
            msg = "unknown field (not part of the b12dx/case/v1 schema)"
        elif kind == "literal_error" and loc_parts and loc_parts[-1] == "sex":
            msg = "sex must be 'female' or 'male'"
        elif kind == "json_invalid":
            loc = "body"
            msg = "the request body is not valid JSON"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the exception handlers on *app*."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        log.info("422 validation error on %s %s", request.method, request.url.path)
        return problem(
            422,
            format_validation_errors(exc.errors()),
            slug="input-error",
            instance=request.url.path,
        )

    @app.exception_handler(B12dxError)
    async def _b12dx(request: Request, exc: B12dxError) -> JSONResponse:
        status = exc.http_status
        log.info("%d %s on %s %s", status, type(exc).__name__, request.method, request.url.path)
        slug = "input-error" if isinstance(exc, InputError) else "b12dx-error"
        extra: dict[str, Any] = {"error": type(exc).__name__}
        if exc.where:
            extra["where"] = exc.where
        return problem(status, str(exc), slug=slug, instance=request.url.path, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the type only: a traceback could quote case content
        log.error("500 %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return problem(
            500, "internal error; the request was not processed", instance=request.url.path
        )
