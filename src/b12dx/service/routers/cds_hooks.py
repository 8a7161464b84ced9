"""CDS Hooks 2.0: ``GET /cds-services``, ``POST /cds-services/{id}``, feedback."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import deque
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...assessment import assess as run_assess
from ...errors import InputError
from ...fhir import FhirImport, case_from_fhir
from ...kb import KnowledgeBase
from .. import cds
from ..auth import CdsAuth
from ..compute import run_cpu
from ..deps import KbDep, SettingsDep
from ..fhir_client import fetch_queries
from ..launch import LaunchContext, issue_context
from ..settings import Settings

__all__ = ["CdsRuntime", "FeedbackStore", "router"]

router = APIRouter(tags=["cds-hooks"])
log = logging.getLogger("b12dx.service.cds")


class FhirAuthorization(BaseModel):
    access_token: str = Field(min_length=1, max_length=10_000)
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class CdsRequest(BaseModel):
    """A CDS Hooks 2.0 service request."""

    model_config = ConfigDict(extra="allow")

    hook: str = Field(max_length=100)
    hookInstance: str = Field(max_length=200)
    fhirServer: str | None = Field(default=None, max_length=2000)
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_auth(self) -> CdsRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization requires fhirServer (CDS Hooks cds-r-1)")
        if self.fhirServer is not None and not self.fhirServer.startswith(("https://", "http://")):
            raise ValueError("fhirServer must be an http(s) URL")
        return self


class Card(BaseModel):
    model_config = ConfigDict(extra="allow")

    uuid: str
    summary: str = Field(max_length=140)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: dict[str, Any]


class CdsResponse(BaseModel):
    cards: list[Card]
    systemActions: list[dict[str, Any]] = Field(default_factory=list)


class OverrideReason(BaseModel):
    model_config = ConfigDict(extra="allow")

    reason: dict[str, Any] | None = None
    userComment: str | None = Field(default=None, max_length=2000)


class AcceptedSuggestion(BaseModel):
    id: str = Field(max_length=200)


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    card: str = Field(max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] = Field(default_factory=list, max_length=100)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: dt.datetime


class FeedbackRequest(BaseModel):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)


class FeedbackAck(BaseModel):
    recorded: int


class FeedbackStore:
    """Feedback outcomes: the last 10,000 in memory, and appended to a JSON-lines file if set.

    Free-text comments are kept (a clinician may explain an override) but never logged.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.items: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._lock = threading.Lock()

    def add(self, service: str, item: FeedbackItem) -> None:
        record = {
            "service": service,
            "card": item.card,
            "outcome": item.outcome,
            "accepted_suggestions": [s.id for s in item.acceptedSuggestions],
            "override_reason": (item.overrideReason.reason or {}).get("code")
            if item.overrideReason
            else None,
            "comment": item.overrideReason.userComment if item.overrideReason else None,
            "outcome_timestamp": item.outcomeTimestamp.isoformat(),
            "received": dt.datetime.now(dt.UTC).isoformat(),
        }
        with self._lock:
            self.items.append(record)
            if self.path:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")


class CdsRuntime:
    """Per-app CDS Hooks state: the JWT verifier (JWKS cache, seen jti) and feedback."""

    def __init__(self, settings: Settings) -> None:
        self.auth = CdsAuth(settings)
        self.feedback = FeedbackStore(settings.feedback_path)


async def get_runtime(request: Request, settings: SettingsDep) -> CdsRuntime:
    runtime = getattr(request.app.state, "cds", None)
    if runtime is None or runtime.auth.settings is not settings:
        runtime = request.app.state.cds = CdsRuntime(settings)
    return runtime


RuntimeDep = Annotated[CdsRuntime, Depends(get_runtime)]
AuthHeader = Annotated[str | None, Header(alias="Authorization")]


def _service(service_id: str) -> dict[str, str]:
    spec = cds.SERVICES.get(service_id)
    if spec is None:
        raise HTTPException(404, f"no CDS service {service_id!r}; see GET /cds-services")
    return spec


@router.get("/cds-services", summary="CDS Hooks discovery")
def discovery(kb: KbDep) -> dict[str, Any]:
    return cds.discovery(kb)


@router.post(
    "/cds-services/{service_id}",
    response_model=CdsResponse,
    response_model_exclude_none=True,
    summary="Call a CDS service",
)
async def call_service(
    service_id: str,
    body: CdsRequest,
    kb: KbDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    authorization: AuthHeader = None,
) -> dict[str, Any]:
    spec = _service(service_id)
    url = f"{settings.base_url}/cds-services/{service_id}"
    await runtime.auth.verify(authorization, [url])
    if body.hook != spec["hook"]:
        raise InputError(
            f"service {service_id!r} answers the {spec['hook']!r} hook, not {body.hook!r}",
            where="hook",
        )
    patient_id = body.context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id:
        raise InputError("context.patientId is required", where="context.patientId")
    prefix = None
    if spec["hook"] == "order-select":
        prefix = cds.order_trigger(kb, body.context)
        if prefix is None:
            return {"cards": []}
    templates = cds.prefetch_templates(kb)
    prefetch = dict(body.prefetch or {})
    missing = cds.missing_keys(prefetch, templates)
    if missing and body.fhirServer:
        token = body.fhirAuthorization.access_token if body.fhirAuthorization else None
        queries = {k: cds.resolve_template(templates[k], body.context) for k in missing}
        prefetch.update(await fetch_queries(body.fhirServer, token, queries, settings=settings))
    card = await run_cpu(
        settings.compute_threads,
        _card,
        kb,
        settings,
        body,
        patient_id,
        prefetch,
        prefix,
        service_id,
    )
    return {"cards": [card] if card else []}


def _card(
    kb: KnowledgeBase,
    settings: Settings,
    body: CdsRequest,
    patient_id: str,
    prefetch: dict[str, Any],
    prefix: str | None,
    service_id: str,
) -> dict[str, Any] | None:
    data = cds.prefetch_data(prefetch)
    try:
        imported: FhirImport = case_from_fhir(data, kb=kb)
        if prefix is None and not cds.relevant(kb, imported):
            return None
        assessment = run_assess(imported.case, kb=kb)
    except InputError as exc:
        # no age or sex, a child, an implausible record: no card (the type only is logged)
        log.info("%s: no card (%s)", service_id, type(exc).__name__)
        return None
    token = issue_context(
        LaunchContext(
            case=imported.case.model_dump(mode="json", by_alias=True, exclude_none=True),
            patient=f"Patient/{patient_id}",
            fhir_server=body.fhirServer,
            hook=body.hook,
            hook_instance=body.hookInstance,
            observations=imported.observations,
        ),
        secret=settings.launch_secret.get_secret_value(),
    )
    return cds.build_card(
        assessment,
        imported,
        kb=kb,
        base_url=settings.base_url,
        patient_id=patient_id,
        prefix=prefix,
        link_url=f"{settings.base_url}/clinician?context={token}",
    )


@router.post(
    "/cds-services/{service_id}/feedback",
    response_model=FeedbackAck,
    summary="Record what happened to a card",
)
async def feedback(
    service_id: str,
    body: FeedbackRequest,
    settings: SettingsDep,
    runtime: RuntimeDep,
    authorization: AuthHeader = None,
) -> FeedbackAck:
    _service(service_id)
    url = f"{settings.base_url}/cds-services/{service_id}"
    await runtime.auth.verify(authorization, [url, f"{url}/feedback"])
    for item in body.feedback:
        runtime.feedback.add(service_id, item)
    log.info("%s: %d feedback item(s) recorded", service_id, len(body.feedback))
    return FeedbackAck(recorded=len(body.feedback))
