"""Signed, encrypted, short-lived launch tokens for the clinician view.

A CDS Hooks card links to ``{public_url}/clinician?context=<token>``. The token carries the Case
b12dx built from the EHR's data (and where it came from), so the web page can show it without a
second round-trip to the EHR. Because a URL ends up in browser history and proxy logs, the token
is **encrypted and authenticated** (Fernet: AES-128-CBC + HMAC-SHA256, with its creation time),
not merely signed, and it expires after ``launch_ttl_s`` seconds (15 minutes by default).

For the web app (reading the context)::

    from b12dx.service.launch import LaunchContextDep      # FastAPI dependency

    @router.get("/clinician")
    def clinician(ctx: LaunchContextDep): ...              # 401 problem+json if bad/expired

or, without FastAPI: ``read_context(token, secret=..., ttl_s=...)``. The secret is
``B12DX_LAUNCH_SECRET``; when it is not set, each process makes a random one, so tokens do not
survive a restart and do not work across several workers: set it in production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import B12dxError
from .deps import SettingsDep

__all__ = [
    "LaunchContext",
    "LaunchContextDep",
    "LaunchTokenError",
    "issue_context",
    "launch_context",
    "read_context",
]


class LaunchTokenError(B12dxError):
    """A launch token that is malformed, tampered with or expired."""

    exit_code = 2
    http_status = 401


class LaunchContext(BaseModel):
    """What a launch token carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: dict[str, Any] = Field(description="The b12dx/case/v1 Case built from the EHR data")
    patient: str | None = Field(default=None, description="Patient/<id> in the EHR")
    fhir_server: str | None = None
    hook: str | None = None
    hook_instance: str | None = None
    observations: dict[str, str] = Field(
        default_factory=dict, description="test id -> Observation reference"
    )
    issued_at: float = Field(default_factory=time.time)


def _fernet(secret: str) -> Any:
    from cryptography.fernet import Fernet

    key = base64.urlsafe_b64encode(hashlib.sha256(b"b12dx-launch:" + secret.encode()).digest())
    return Fernet(key)


def issue_context(ctx: LaunchContext, *, secret: str) -> str:
    """An encrypted token for *ctx* (URL-safe base64)."""
    raw = zlib.compress(ctx.model_dump_json().encode(), 9)
    token: bytes = _fernet(secret).encrypt(raw)
    return token.decode("ascii")


def read_context(token: str, *, secret: str, ttl_s: int) -> LaunchContext:
    """Decrypt and check a token; raises ``LaunchTokenError`` if invalid or older than *ttl_s*."""
    from cryptography.fernet import InvalidToken

    try:
        raw = _fernet(secret).decrypt(token.encode("ascii"), ttl=ttl_s)
        return LaunchContext.model_validate(json.loads(zlib.decompress(raw)))
    except (InvalidToken, UnicodeEncodeError):
        raise LaunchTokenError(
            "the launch link is invalid or has expired; open b12dx from the EHR again"
        ) from None
    except (zlib.error, ValueError, ValidationError):
        raise LaunchTokenError("the launch link's content is not readable") from None


def launch_context(
    context: Annotated[
        str,
        Query(min_length=16, max_length=16_000, description="Launch token from a CDS Hooks card"),
    ],
    settings: SettingsDep,
) -> LaunchContext:
    """FastAPI dependency: the LaunchContext of ``?context=<token>`` (401 if bad or expired)."""
    return read_context(
        context, secret=settings.launch_secret.get_secret_value(), ttl_s=settings.launch_ttl_s
    )


LaunchContextDep = Annotated[LaunchContext, Depends(launch_context)]
