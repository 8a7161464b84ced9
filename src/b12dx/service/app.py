"""``create_app()``: assemble the FastAPI application from its routers.

Routers: ``meta`` (health, ping), ``kb`` (catalogue), ``assess`` (assess + FHIR), ``explain``,
``interview`` and ``cds_hooks``. Routers other engineers own (``web``, ``parse``, ``records``)
are included when their module is present; each exposes ``router: APIRouter``.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .. import __version__
from ..kb import KnowledgeBase, load_kb
from ..tuning import limit_blas_threads
from . import problems
from .deps import get_settings
from .middleware import AccessLog, BodyLimit
from .routers import assess, cds_hooks, explain, interview, kb, meta
from .settings import Settings

__all__ = ["GC_GEN0_THRESHOLD", "OPTIONAL_ROUTERS", "create_app", "create_served_app"]

log = logging.getLogger("b12dx.service")

# Routers that are part of the app only when their module exists in this build.
OPTIONAL_ROUTERS = ("web", "parse", "records")
# Allocations (net of frees) between young-generation collections in a served process. CPython's
# default, 700, collects once or twice inside every assessment, while one assessment never keeps
# anywhere near this many objects alive, so in steady state the collector hardly runs.
GC_GEN0_THRESHOLD = 50_000


def _optional_routers(app: FastAPI) -> None:
    for name in OPTIONAL_ROUTERS:
        module_name = f"{__package__}.routers.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        app.include_router(module.router)


def create_app(settings: Settings | None = None, *, optional_routers: bool = True) -> FastAPI:
    """The b12dx FastAPI application; *settings* default to the environment's.

    *optional_routers* False leaves out the routers other parts of b12dx add (web pages, free
    text, records), e.g. to snapshot the core API's OpenAPI document.
    """
    settings = settings if settings is not None else get_settings()
    app = FastAPI(
        title="b12dx",
        version=__version__,
        summary="Muscle cramps: vitamin B12 deficiency, electrolyte disturbance or something "
        "else? Decision support; it does not diagnose.",
        description="REST API, FHIR R4 input and output, and CDS Hooks 2.0 services for b12dx. "
        "Errors are `application/problem+json`; bad input gets 422 with the same message as "
        "the command line.",
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        openapi_tags=[
            {"name": "assess", "description": "Assess a case (b12dx/case/v1 or FHIR R4)."},
            {"name": "interview", "description": "Adaptive, stateless questionnaire."},
            {"name": "kb", "description": "The knowledge base catalogue."},
            {"name": "cds-hooks", "description": "CDS Hooks 2.0 services."},
            {"name": "meta", "description": "Health and version."},
        ],
    )
    app.state.settings = settings
    problems.install(app)
    for module in (meta, kb, assess, explain, interview, cds_hooks):
        app.include_router(module.router)
    if optional_routers:
        _optional_routers(app)
    if settings.web_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[settings.web_origin],
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=600,
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    if settings.cds_dev_no_auth:
        log.warning(
            "CDS Hooks authentication is OFF (B12DX_CDS_DEV_NO_AUTH): any caller can "
            "use the CDS services. Never run like this outside development."
        )
    return app


def _warm_parser(kb: KnowledgeBase) -> None:
    """Build the free-text reader (the ``nlp`` extra) in the background: it takes seconds, which
    would otherwise all fall on the first ``POST /v1/parse`` (the questionnaire's description box).
    A parse that arrives meanwhile waits for the same build instead of starting its own."""
    from ..errors import MissingExtraError
    from ..nlp import parse_text

    try:
        parse_text("cramps", kb=kb)
    except MissingExtraError:
        log.info("free-text reader not installed (the nlp extra); POST /v1/parse will say so")


def create_served_app() -> FastAPI:
    """What ``b12dx serve`` runs in each worker process: ``create_app()``, warmed up, with the
    garbage collector tuned for a long-running server and BLAS held to ``blas_threads``.

    Everything loaded up front (the knowledge base, the lazily imported FHIR, JWT and rendering
    modules) lives as long as the process, so it is moved out of the collector's sight
    (``gc.freeze``): a full collection then no longer walks the whole knowledge base, which cost
    tens of milliseconds on the latency tail. See ``docs/service.md`` (Performance).
    """
    app = create_app()
    settings: Settings = app.state.settings
    kb = load_kb(settings.kb_dir)
    # kept on app.state so that a caller (or a test) can wait for the build
    app.state.warm_parser = None
    if settings.warm_parser:
        app.state.warm_parser = threading.Thread(
            target=_warm_parser, args=(kb,), name="b12dx-warm-parser", daemon=True
        )
        app.state.warm_parser.start()
    for module in ("b12dx.fhir", "b12dx.render.fhir", "jwt", "httpx"):
        importlib.import_module(module)
    if settings.blas_threads:
        # the engine's matrices are small: extra BLAS threads only spin, taking CPU from the
        # requests (one thread: about 20% less CPU per assessment request under load)
        limit_blas_threads(settings.blas_threads)
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
    return app
