"""``POST /v1/parse``: free text -> evidence with span, phrase and ConText attributes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...nlp import MAX_TEXT_CHARS, ParseResult, parse_text
from ..deps import KbDep

__all__ = ["ParseRequest", "ParseResponse", "router"]

router = APIRouter(tags=["parse"])


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        max_length=MAX_TEXT_CHARS,
        description="A person's own description or a clinical note, in English.",
        examples=["I'm a 67 year old woman. My calves lock up at night, no swelling, I'm vegan."],
    )


class ParseResponse(ParseResult):
    """What was understood, mention by mention, and the Case data it amounts to."""

    case: dict[str, Any] = Field(
        description="Plain b12dx/case/v1 data (evidence, medications, labs; age and sex when "
        "stated) ready to merge into a Case."
    )


@router.post(
    "/v1/parse",
    response_model=ParseResponse,
    response_model_exclude_none=True,
    summary="Read free text into evidence",
)
def parse(request: ParseRequest, kb: KbDep) -> ParseResponse:
    """Evidence (present, absent or unknown, with the matched span, the phrase and its ConText
    attributes: negated, historical, family, hypothetical, uncertain), medications with years
    of use, labs with values and units, age and sex when stated."""
    result = parse_text(request.text, kb=kb)
    return ParseResponse(**result.model_dump(), case=result.case_data())
