"""Health and version endpoints; ``/v1/ping`` is the trivial endpoint the load benchmark uses."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ... import __version__
from ..deps import KbDep

__all__ = ["router"]

router = APIRouter(tags=["meta"])


class Health(BaseModel):
    status: str
    b12dx_version: str
    kb_version: str
    kb_sha256: str


class Pong(BaseModel):
    ok: bool


@router.get("/v1/health", response_model=Health, summary="Service health and versions")
def health(kb: KbDep) -> Health:
    return Health(
        status="ok", b12dx_version=__version__, kb_version=kb.version, kb_sha256=kb.sha256
    )


@router.get("/v1/ping", response_model=Pong, summary="Trivial liveness check")
async def ping() -> Pong:
    return Pong(ok=True)
