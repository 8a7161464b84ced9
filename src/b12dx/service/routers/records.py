"""Records API: longitudinal records per person, follow-up review, plots, export/import.

Every endpoint needs ``Authorization: Bearer <token>``. Tokens belong to users and are stored
only as SHA-256 hashes; a user sees and changes only the people they created (someone else's
person is "404 not found", never "403", so its existence does not leak). Users are created by
an admin: the token in ``B12DX_ADMIN_TOKEN`` or a user created with ``admin: true``.

The store is ``$B12DX_DATABASE_URL`` (default: the SQLite file in the user's data directory),
opened on first use; tests put their own in ``app.state.b12dx_store``.

``GET /records`` is the timeline page: it asks for the token (kept in the tab's
sessionStorage only) and draws the person's timeline from these endpoints.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...errors import InputError
from ...monitor import ReviewResult, review
from ...store.auth import same_token
from ...store.records import (
    Assessment,
    Lab,
    LabIn,
    Person,
    PersonIn,
    Review,
    ReviewIn,
    Symptoms,
    SymptomsIn,
    Timeline,
    Treatment,
    TreatmentIn,
    User,
)
from ...store.repo import Store, open_store

__all__ = ["ADMIN_TOKEN_ENV", "get_store", "router"]

ADMIN_TOKEN_ENV = "B12DX_ADMIN_TOKEN"
# The most lines one import request may carry (the body limit applies as well); not clinical.
MAX_IMPORT_LINES = 100_000

router = APIRouter(tags=["records"])
_open_lock = threading.Lock()


# -- dependencies ----------------------------------------------------------------------------


def get_store(request: Request) -> Store:
    """The app's record store, opened (and migrated) on first use."""
    store: Store | None = getattr(request.app.state, "b12dx_store", None)
    if store is None:
        with _open_lock:
            store = getattr(request.app.state, "b12dx_store", None)
            if store is None:
                kb_dir = getattr(getattr(request.app.state, "settings", None), "kb_dir", None)
                from ...kb import load_kb

                store = open_store(kb=load_kb(kb_dir))
                request.app.state.b12dx_store = store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def _bearer(authorization: str | None) -> str:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    raise HTTPException(
        401,
        "this endpoint needs 'Authorization: Bearer <token>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_user(store: StoreDep, authorization: Annotated[str | None, Header()] = None) -> User:
    user = store.user_for_token(_bearer(authorization))
    if user is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return user


UserDep = Annotated[User, Depends(current_user)]


def require_admin(
    request: Request, store: StoreDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    token = _bearer(authorization)
    admin = getattr(request.app.state, "b12dx_admin_token", None) or os.environ.get(ADMIN_TOKEN_ENV)
    if admin and same_token(token, admin):
        return
    user = store.user_for_token(token)
    if user is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    if not user.is_admin:
        raise HTTPException(403, "only an admin may create users")


# -- users -----------------------------------------------------------------------------------


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    admin: bool = False


class NewUser(BaseModel):
    id: int
    name: str
    is_admin: bool
    token: str = Field(description="The API token; shown only in this response.")


@router.post(
    "/v1/users",
    response_model=NewUser,
    status_code=201,
    dependencies=[Depends(require_admin)],
    summary="Create a user (admin only)",
)
def create_user(body: UserIn, store: StoreDep) -> NewUser:
    user, token = store.create_user(body.name, admin=body.admin)
    return NewUser(id=user.id, name=user.name, is_admin=user.is_admin, token=token)


@router.get(
    "/v1/users",
    response_model=list[User],
    dependencies=[Depends(require_admin)],
    summary="List users (admin only)",
)
def list_users(store: StoreDep) -> list[User]:
    return store.list_users()


@router.get("/v1/me", response_model=User, summary="The user this token belongs to")
def me(user: UserDep) -> User:
    return user


class NewToken(BaseModel):
    token: str = Field(description="The new API token; the old one no longer works.")


@router.post("/v1/me/token", response_model=NewToken, summary="Replace your API token")
def rotate_token(store: StoreDep, user: UserDep) -> NewToken:
    return NewToken(token=store.rotate_token(user.id))


# -- people and records ----------------------------------------------------------------------


class PersonChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sex: Literal["female", "male"] | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: list[str] | None = Field(default=None, max_length=50)


class StopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stopped_on: dt.date
    reason: str | None = Field(default=None, max_length=500)


@router.get("/v1/people", response_model=list[Person], summary="Your people")
def list_people(store: StoreDep, user: UserDep) -> list[Person]:
    return store.list_people(owner=user.id)


@router.post("/v1/people", response_model=Person, status_code=201, summary="Add a person")
def add_person(body: PersonIn, store: StoreDep, user: UserDep) -> Person:
    return store.add_person(body, owner=user.id)


@router.get("/v1/people/{ref}", response_model=Person, summary="One person")
def get_person(ref: str, store: StoreDep, user: UserDep) -> Person:
    return store.get_person(ref, owner=user.id)


@router.patch("/v1/people/{ref}", response_model=Person, summary="Change a person's details")
def change_person(ref: str, body: PersonChange, store: StoreDep, user: UserDep) -> Person:
    return store.update_person(ref, body.model_dump(exclude_none=True), owner=user.id)


@router.get(
    "/v1/people/{ref}/timeline", response_model=Timeline, summary="Everything recorded for a person"
)
def timeline(ref: str, store: StoreDep, user: UserDep) -> Timeline:
    return store.timeline(ref, owner=user.id)


@router.post(
    "/v1/people/{ref}/labs", response_model=Lab, status_code=201, summary="Record a lab result"
)
def add_lab(ref: str, body: LabIn, store: StoreDep, user: UserDep) -> Lab:
    return store.add_lab(ref, body, owner=user.id)


@router.post(
    "/v1/people/{ref}/symptoms",
    response_model=Symptoms,
    status_code=201,
    summary="Record a symptom diary entry",
)
def add_symptoms(ref: str, body: SymptomsIn, store: StoreDep, user: UserDep) -> Symptoms:
    return store.add_symptoms(ref, body, owner=user.id)


@router.post(
    "/v1/people/{ref}/treatments",
    response_model=Treatment,
    status_code=201,
    summary="Start a course of treatment",
)
def start_treatment(ref: str, body: TreatmentIn, store: StoreDep, user: UserDep) -> Treatment:
    return store.start_treatment(ref, body, owner=user.id)


@router.post(
    "/v1/people/{ref}/treatments/{uid}/stop",
    response_model=Treatment,
    summary="Stop a course of treatment",
)
def stop_treatment(ref: str, uid: str, body: StopIn, store: StoreDep, user: UserDep) -> Treatment:
    return store.stop_treatment(
        ref, stopped_on=body.stopped_on, uid=uid, reason=body.reason, owner=user.id
    )


@router.post(
    "/v1/people/{ref}/assessments",
    response_model=Assessment,
    status_code=201,
    summary="Assess a case (b12dx/case/v1) and store the result",
)
def add_assessment(
    ref: str,
    body: dict[str, Any],
    store: StoreDep,
    user: UserDep,
    date: Annotated[dt.date | None, Query()] = None,
) -> Assessment:
    from ... import assess, parse_case

    store.get_person(ref, owner=user.id)  # 404 before any work
    result = assess(parse_case(body), kb=store.kb)
    return store.add_assessment(
        ref, json.loads(result.to_json()), day=date or dt.date.today(), owner=user.id
    )


@router.post(
    "/v1/people/{ref}/reviews",
    response_model=Review,
    status_code=201,
    summary="Record a follow-up review as held",
)
def add_review(ref: str, body: ReviewIn, store: StoreDep, user: UserDep) -> Review:
    return store.add_review(ref, body, owner=user.id)


@router.get(
    "/v1/people/{ref}/review",
    response_model=ReviewResult,
    summary="Treatment response and follow-up flags",
)
def get_review(
    ref: str, store: StoreDep, user: UserDep, as_of: Annotated[dt.date | None, Query()] = None
) -> ReviewResult:
    return review(store.timeline(ref, owner=user.id), as_of=as_of, kb=store.kb)


@router.get(
    "/v1/people/{ref}/plot.{fmt}",
    summary="Timeline plot (PNG or SVG)",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def plot(
    ref: str,
    fmt: str,
    store: StoreDep,
    user: UserDep,
    as_of: Annotated[dt.date | None, Query()] = None,
) -> Response:
    from ...plots import plot_timeline

    if fmt not in ("png", "svg"):
        raise InputError(f"plot format {fmt!r} is not one of png, svg", where="fmt")
    tl = store.timeline(ref, owner=user.id)
    data = plot_timeline(tl, fmt=fmt, kb=store.kb, as_of=as_of)  # type: ignore[arg-type]
    media = "image/png" if fmt == "png" else "image/svg+xml"
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})


# -- export / import -------------------------------------------------------------------------


class ImportResult(BaseModel):
    lines: int
    added: int
    skipped: int
    rejected: list[dict[str, Any]]


def _ndjson(lines: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        (line + "\n" for line in lines),
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/v1/records/export", summary="All your records as JSON Lines", response_class=StreamingResponse
)
def export_all(store: StoreDep, user: UserDep) -> StreamingResponse:
    from ...store.jsonl import export_lines

    return _ndjson(iter(list(export_lines(store, owner=user.id))))


@router.get(
    "/v1/people/{ref}/export",
    summary="One person's records as JSON Lines",
    response_class=StreamingResponse,
)
def export_one(ref: str, store: StoreDep, user: UserDep) -> StreamingResponse:
    from ...store.jsonl import export_lines

    return _ndjson(iter(list(export_lines(store, owner=user.id, refs=[ref]))))


@router.post(
    "/v1/records/import",
    response_model=ImportResult,
    summary="Import JSON Lines records (idempotent: present records are skipped)",
    openapi_extra={
        "requestBody": {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def import_records(request: Request, store: StoreDep, user: UserDep) -> ImportResult:
    from starlette.concurrency import run_in_threadpool

    from ...store.jsonl import import_lines

    body = (await request.body()).decode("utf-8", errors="replace")
    lines = body.splitlines()
    if len(lines) > MAX_IMPORT_LINES:
        raise InputError(
            f"{len(lines)} lines is more than one request may carry "
            f"({MAX_IMPORT_LINES}); split the file",
            where="body",
        )
    report = await run_in_threadpool(import_lines, store, lines, owner=user.id)
    return ImportResult(
        lines=report.lines,
        added=report.added,
        skipped=report.skipped,
        rejected=[{"line": n, "reason": why} for n, why in report.rejected],
    )


# -- the timeline page -----------------------------------------------------------------------

_SERVICE = Path(__file__).resolve().parent.parent
_PAGE_HEADERS = {
    # blob: for the plot images fetched with the token; no inline script or style
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=1)
def _jinja() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(_SERVICE / "templates")), autoescape=select_autoescape(["html"])
    )


@router.get("/records", response_class=HTMLResponse, include_in_schema=False)
def timeline_page(request: Request) -> HTMLResponse:
    store = getattr(request.app.state, "b12dx_store", None)
    kb_version = store.kb.version if store is not None else None
    html = _jinja().get_template("timeline.html").render(active="records", kb_version=kb_version)
    return HTMLResponse(html, headers=_PAGE_HEADERS)


@router.get("/records/timeline.js", include_in_schema=False)
def timeline_script() -> Response:
    data = (_SERVICE / "static" / "timeline.js").read_bytes()
    return Response(
        data,
        media_type="text/javascript",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
