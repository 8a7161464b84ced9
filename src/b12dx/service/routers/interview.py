"""``POST /v1/interview``: the next question of the adaptive interview (stateless)."""

from __future__ import annotations

import functools

from fastapi import APIRouter

from ...interview import InterviewRequest, InterviewStep, next_step
from ..compute import run_cpu
from ..deps import KbDep, SettingsDep

__all__ = ["router"]

router = APIRouter(tags=["interview"])


@router.post("/v1/interview", response_model=InterviewStep, summary="Next interview question")
async def interview(body: InterviewRequest, kb: KbDep, settings: SettingsDep) -> InterviewStep:
    """Send the case so far and the questions already answered or skipped; get the next
    question (plain-language text, answer options, rationale), the differential, the triage
    and ``should_stop``. Add the answer to ``case.evidence`` (with ``source: "interview"``)
    and its id to ``answered``, then call again."""
    return await run_cpu(
        settings.compute_threads,
        functools.partial(
            next_step,
            body.case,
            answered=body.answered,
            skipped=body.skipped,
            kb=kb,
            max_questions=body.max_questions,
        ),
    )
