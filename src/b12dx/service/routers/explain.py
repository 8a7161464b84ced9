"""``POST /v1/explain``: the evidence for and against one cause."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...assessment import assess as run_assess
from ...case import Case, canonical_id
from ...errors import UnknownIdError
from ...kb import KnowledgeBase
from ...result import Assessment, CauseResult
from ..compute import run_cpu
from ..deps import KbDep, SettingsDep

__all__ = ["ExplainRequest", "router"]

router = APIRouter(tags=["assess"])


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case: Case
    cause: str = Field(min_length=1, max_length=100, description="A cause id (GET /v1/kb/causes)")


@router.post(
    "/v1/explain",
    response_model=CauseResult,
    response_model_by_alias=True,
    summary="Why a cause has its probability",
)
async def explain(body: ExplainRequest, kb: KbDep, settings: SettingsDep) -> CauseResult:
    """Each piece of evidence with its effect on the cause's log-odds (leave-one-out)."""
    cause = canonical_id(body.cause)
    if cause not in kb.cause_by_id:
        raise UnknownIdError(
            "cause", body.cause, kb.cause_by_id, where="cause", listing="b12dx kb causes"
        )
    result = await run_cpu(settings.compute_threads, _assess, body.case, kb)
    return next(c for c in result.differential if c.id == cause)


def _assess(case: Case, kb: KnowledgeBase) -> Assessment:
    return run_assess(case, kb=kb)
