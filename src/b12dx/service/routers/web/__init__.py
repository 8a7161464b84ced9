"""Web pages: the questionnaire for people with cramps and the clinician view.

Server-rendered Jinja2 templates with a small amount of vanilla JavaScript (no build step).

* ``GET /`` chooses between the two pages.
* ``GET /questionnaire`` is a shell that ``static/questionnaire.js`` drives one question at a
  time through ``POST /v1/interview`` (and ``POST /v1/parse`` for the opening description when
  that endpoint exists); the finished case is posted to ``POST /questionnaire/result``, which
  renders the plain-language result on the server so that it prints cleanly.
* ``GET /clinician`` is a plain HTML form; ``POST /clinician`` assesses it and renders the form
  again (nothing typed is lost) with the result, or with the service's error message next to
  the field it concerns. ``POST /clinician/fhir`` does the same from a FHIR R4 Bundle, and
  ``GET /clinician?context=<token>`` from a signed launch context (the CDS Hooks card link).
* ``POST /clinician/export`` downloads the assessment as JSON or as FHIR.

Every assessment goes through ``b12dx.assess``: the pages add no clinical logic.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from ....case import Case
from ....errors import B12dxError, InputError
from ....kb import KnowledgeBase
from ....result import Assessment
from ...deps import KbDep, SettingsDep
from .form import FormState, case_from_state, fmt_number

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "FormState", "router", "templates"]

_HERE = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
router = APIRouter(include_in_schema=False)


def _pct(p: float) -> str:
    """A probability for display: whole percent, with the extremes kept honest."""
    if p <= 0:
        return "0%"
    if p < 0.01:
        return "<1%"
    if p > 0.99 and p < 1:
        return ">99%"
    return f"{p * 100:.0f}%"


templates.env.filters["pct"] = _pct
templates.env.filters["g"] = fmt_number

# Limits on what the pages accept; the service has its own body-size limit too.
_MAX_BUNDLE_BYTES = 5_000_000
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# -- helpers --------------------------------------------------------------------------------


def _assess(case: Case, kb: KnowledgeBase) -> Assessment:
    from .... import assess

    return assess(case, kb=kb)


def _has_route(request: Request, path: str) -> bool:
    """Whether the app serves *path* (an optional router such as ``/v1/parse``).

    Read from the OpenAPI document, which FastAPI builds once and caches; routers included in
    routers are not all visible in ``app.routes``."""
    try:
        paths = request.app.openapi().get("paths", {})
    except Exception:  # an OpenAPI problem elsewhere must not break the page
        return False
    return path in paths


def _page(
    request: Request,
    kb: KnowledgeBase,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    context = {"kb_version": kb.version, "kb": kb, **context}
    resp = templates.TemplateResponse(request, name, context, status_code=status_code)
    resp.headers.update(_SECURITY_HEADERS)
    return resp


def _catalogue(kb: KnowledgeBase) -> dict[str, Any]:
    """What the clinician form offers: findings with synonyms, medicines, lab tests and units."""
    evidence = [
        {
            "id": f.id,
            "name": f.name,
            "lay": f.lay_name,
            "kind": f.kind,
            "synonyms": list(f.synonyms),
        }
        for f in kb.findings
        if f.kind != "lab"
    ] + [
        {
            "id": r.id,
            "name": r.name,
            "lay": r.lay_name,
            "kind": r.category,
            "synonyms": list(r.synonyms),
        }
        for r in kb.risk_factors
    ]
    medicines = sorted(
        {d.name for c in kb.drug_classes for d in c.drugs}
        | {b for c in kb.drug_classes for d in c.drugs for b in d.brands},
        key=str.lower,
    )
    labs = [
        {
            "id": t.id,
            "name": t.name,
            "unit": t.unit,
            "units": list(dict.fromkeys(u.unit for u in t.units)),
        }
        for t in kb.labs
        if t.derived is None
    ]
    return {"evidence": evidence, "medicines": medicines, "labs": labs}


def _max_questions(kb: KnowledgeBase) -> int:
    """An upper bound on the interview's length, for the progress bar: every red-flag
    question (never cut short) plus the interview's own limit."""
    from ....interview import interview_settings

    red_flags = sum(1 for f in kb.findings if f.kind == "red_flag" and f.question)
    return red_flags + int(interview_settings().max_questions.value)


def _lay_label_of(kb: KnowledgeBase, ident: str) -> str:
    if ident in kb.finding_by_id:
        return kb.finding_by_id[ident].lay_name
    if ident in kb.risk_factor_by_id:
        return kb.risk_factor_by_id[ident].lay_name
    if ident in kb.drug_class_by_id:
        return kb.drug_class_by_id[ident].lay_name
    return ident


def _label_of(kb: KnowledgeBase, ident: str) -> str:
    if ident in kb.finding_by_id:
        return kb.finding_by_id[ident].name
    if ident in kb.risk_factor_by_id:
        return kb.risk_factor_by_id[ident].name
    return ident


def _render_clinician(
    request: Request,
    kb: KnowledgeBase,
    state: FormState,
    *,
    case: Case | None = None,
    result: Assessment | None = None,
    status_code: int = 200,
    fhir_text: str = "",
    notes: list[str] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        kb,
        "clinician.html",
        {
            "form": state,
            "catalogue": _catalogue(kb),
            "all_units": sorted(
                {u.unit for t in kb.labs if t.derived is None for u in t.units}, key=str.lower
            ),
            "labels": {i: _label_of(kb, i) for i in kb.evidence_ids},
            "result": result,
            "case_json": case.model_dump_json(by_alias=True, exclude_none=True) if case else "",
            "fhir_text": fhir_text,
            "notes": notes or [],
        },
        status_code=status_code,
    )


def _assess_state(
    request: Request, kb: KnowledgeBase, state: FormState, **extra: Any
) -> HTMLResponse:
    case = case_from_state(state)
    if case is None:
        return _render_clinician(request, kb, state, status_code=422, **extra)
    try:
        result = _assess(case, kb)
    except InputError as exc:
        state.add_error(exc.where, exc.message)
        return _render_clinician(request, kb, state, status_code=422, **extra)
    return _render_clinician(request, kb, state, case=result.case, result=result, **extra)


def _assess_case(
    request: Request, kb: KnowledgeBase, case: Case, *, notes: list[str]
) -> HTMLResponse:
    """Assess a case that came from FHIR or a launch context, as is (dates and reference
    ranges included), and show it in the form so the clinician can check and edit it."""
    state = FormState.from_case(case)
    try:
        result = _assess(case, kb)
    except InputError as exc:
        state.add_error(exc.where, exc.message)
        return _render_clinician(request, kb, state, status_code=422, notes=notes)
    return _render_clinician(request, kb, state, case=result.case, result=result, notes=notes)


# -- FHIR and launch context (the service's helpers, when present) ---------------------------


def _fhir_to_case(data: Any, kb: KnowledgeBase) -> tuple[Case, list[str]]:
    """A FHIR R4 resource or Bundle -> (Case, what was not used and why), via ``b12dx.fhir``."""
    from ....fhir import case_from_fhir

    imported = case_from_fhir(data, kb=kb)
    notes = list(imported.notes)
    for item in imported.ignored:
        code = f" ({item.code}{' ' + item.display if item.display else ''})" if item.code else ""
        notes.append(f"Not used: {item.resource}{code}: {item.reason}")
    return imported.case, notes


# -- routes ---------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, kb: KbDep) -> HTMLResponse:
    return _page(request, kb, "home.html", {})


@router.get("/questionnaire", response_class=HTMLResponse)
def questionnaire(request: Request, kb: KbDep) -> HTMLResponse:
    return _page(
        request,
        kb,
        "questionnaire.html",
        {
            "parse_available": _has_route(request, "/v1/parse"),
            "max_questions": _max_questions(kb),
            "lay_names": {
                **{i: _lay_label_of(kb, i) for i in (*kb.evidence_ids, *kb.drug_class_by_id)},
                **{t.id: t.lay_name for t in kb.labs},
            },
            "min_age": kb.meta.min_age.value,
            "lay_disclaimer": kb.meta.lay_disclaimer,
        },
    )


@router.post("/questionnaire/result", response_class=HTMLResponse)
async def questionnaire_result(request: Request, kb: KbDep) -> HTMLResponse:
    form = await request.form()
    raw = form.get("case")
    error: str | None = None
    result: Assessment | None = None
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
        case = Case.model_validate(data)
        result = _assess(case, kb)
    except (ValueError, ValidationError) as exc:
        error = f"the answers could not be read ({exc.__class__.__name__}); please start again"
    except InputError as exc:
        error = str(exc)
    if result is None:
        return _page(request, kb, "error.html", {"message": error}, status_code=422)
    return _page(
        request,
        kb,
        "result.html",
        {
            "result": result,
            "labels": {i: _lay_label_of(kb, i) for i in kb.evidence_ids},
            "lay_labels": {
                i: _lay_label_of(kb, i) for i in (*kb.evidence_ids, *kb.drug_class_by_id)
            },
            "lay_disclaimer": kb.meta.lay_disclaimer,
            "report_date": dt.date.today().isoformat(),
        },
    )


@router.get("/clinician", response_class=HTMLResponse)
def clinician(
    request: Request, kb: KbDep, settings: SettingsDep, context: str | None = None
) -> HTMLResponse:
    if not context:
        return _render_clinician(request, kb, FormState(labs=[{}], meds=[{}]))
    from ...launch import read_context

    try:
        ctx = read_context(
            context,
            secret=settings.launch_secret.get_secret_value(),
            ttl_s=settings.launch_ttl_s,
        )
        case = Case.model_validate(ctx.case)
    except (B12dxError, ValidationError) as exc:
        state = FormState(labs=[{}], meds=[{}])
        msg = exc.message if isinstance(exc, B12dxError) else "its case is not readable"
        state.general_errors.append(f"The launch link could not be used: {msg}")
        return _render_clinician(request, kb, state, status_code=400)
    return _assess_case(
        request,
        kb,
        case,
        notes=[
            "Filled in from the record that opened this page"
            + (f" ({ctx.patient})" if ctx.patient else "")
            + "; check it before relying on the result."
        ],
    )


@router.post("/clinician", response_class=HTMLResponse)
async def clinician_submit(request: Request, kb: KbDep) -> HTMLResponse:
    form = await request.form()
    state = FormState.from_form({k: v for k, v in form.items()})
    return _assess_state(request, kb, state)


@router.post("/clinician/fhir", response_class=HTMLResponse)
async def clinician_fhir(request: Request, kb: KbDep) -> HTMLResponse:
    form = await request.form()
    text = form.get("bundle")
    upload = form.get("file")
    raw = text if isinstance(text, str) else ""
    if upload is not None and not isinstance(upload, str):
        content = await upload.read(_MAX_BUNDLE_BYTES + 1)
        if content:
            raw = content.decode("utf-8", errors="replace")
    state = FormState(labs=[{}], meds=[{}])
    if not raw.strip():
        state.errors["fhir-bundle"] = "paste a FHIR R4 Bundle or choose a .json file"
        return _render_clinician(request, kb, state, status_code=422)
    if len(raw) > _MAX_BUNDLE_BYTES:
        state.errors["fhir-bundle"] = f"the Bundle is larger than {_MAX_BUNDLE_BYTES} bytes"
        return _render_clinician(request, kb, state, status_code=413)
    try:
        data = json.loads(raw)
        case, notes = _fhir_to_case(data, kb)
    except ValueError as exc:
        state.errors["fhir-bundle"] = f"not valid JSON: {exc}"
        return _render_clinician(request, kb, state, status_code=422, fhir_text=raw)
    except B12dxError as exc:
        state.errors["fhir-bundle"] = str(exc)
        return _render_clinician(request, kb, state, status_code=422, fhir_text=raw)
    notes = ["Filled in from the FHIR Bundle; check it before relying on the result.", *notes]
    return _assess_case(request, kb, case, notes=notes)


@router.post("/clinician/export")
async def clinician_export(request: Request, kb: KbDep) -> Response:
    form = await request.form()
    raw, fmt = form.get("case"), form.get("format")
    try:
        case = Case.model_validate(json.loads(raw) if isinstance(raw, str) else None)
        result = _assess(case, kb)
    except (ValueError, ValidationError, InputError) as exc:
        return Response(f"cannot export: {exc}", status_code=422, media_type="text/plain")
    name = (result.case_id or "assessment").replace('"', "")
    if fmt == "fhir":
        from ....render.fhir import to_bundle

        text = json.dumps(to_bundle(result, kb=kb), indent=2)
        return Response(
            text,
            media_type="application/fhir+json",
            headers={"Content-Disposition": f'attachment; filename="{name}.fhir.json"'},
        )
    return Response(
        result.to_json(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
    )


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    target = (STATIC_DIR / path).resolve()
    if not target.is_file() or STATIC_DIR not in target.parents:
        return Response("not found", status_code=404, media_type="text/plain")
    media = _STATIC_TYPES.get(target.suffix, "application/octet-stream")
    return FileResponse(target, media_type=media, headers={"Cache-Control": "max-age=300"})
