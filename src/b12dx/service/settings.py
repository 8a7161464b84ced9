"""Service settings, read from ``B12DX_*`` environment variables (or given to ``create_app``).

==========================  ======================================================  ===========
variable                    meaning                                                 default
==========================  ======================================================  ===========
B12DX_HOST / B12DX_PORT     where ``b12dx serve`` listens                           127.0.0.1 / 8000
B12DX_PUBLIC_URL            the base URL clients use (CDS Hooks ``aud``, links)      http://HOST:PORT
B12DX_WEB_ORIGIN            the one origin allowed by CORS (the web app)            none
B12DX_MAX_BODY_BYTES        request bodies above this get 413                        2000000
B12DX_KB_DIR                a knowledge-base directory instead of the packaged one   packaged
B12DX_CDS_ISSUERS           JSON: {"<iss>": "<JWKS URL>" or {JWKS}} allow-list       {}
B12DX_CDS_DEV_NO_AUTH       1 = accept CDS Hooks calls without a JWT (dev only)      0
B12DX_FHIR_ALLOW            comma-separated fhirServer URL prefixes we may call      any
B12DX_FHIR_MAX_PAGES        searchset pages followed per prefetch query              5
B12DX_LAUNCH_SECRET         key for signed clinician-view launch tokens              random
B12DX_LAUNCH_TTL_S          lifetime of a launch token, seconds                      900
B12DX_FEEDBACK_PATH         append CDS Hooks feedback as JSON lines to this file     memory only
B12DX_COMPUTE_THREADS       0: CPU work on the event loop, in order; N: N threads    0
B12DX_BLAS_THREADS          BLAS threads per worker (0: leave the library's own)     1
==========================  ======================================================  ===========
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["ASYMMETRIC_ALGORITHMS", "Settings"]

# CDS Hooks 2.0: "none" and symmetric (HMAC) algorithms are forbidden.
ASYMMETRIC_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
)


class Settings(BaseModel):
    """Everything the service can be configured with; frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    web_origin: str | None = None
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    kb_dir: str | None = None
    cds_issuers: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    cds_algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
    cds_dev_no_auth: bool = False
    cds_clock_skew_s: int = Field(default=60, ge=0, le=600)
    fhir_allow: tuple[str, ...] = ()
    fhir_timeout_s: float = Field(default=10.0, gt=0)
    fhir_max_pages: int = Field(default=5, ge=1, le=100)
    jwks_cache_s: int = Field(default=300, ge=0)
    launch_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    launch_ttl_s: int = Field(default=900, ge=10, le=86_400)
    feedback_path: str | None = None
    compute_threads: int = Field(default=0, ge=0, le=64)
    blas_threads: int = Field(default=1, ge=0, le=256)
    warm_parser: bool = True

    @property
    def base_url(self) -> str:
        """The service's public base URL, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        def get(name: str) -> str | None:
            v = env.get(f"B12DX_{name}")
            return v if v not in (None, "") else None

        for key in ("host", "public_url", "web_origin", "kb_dir", "feedback_path"):
            if (v := get(key.upper())) is not None:
                values[key] = v
        for key in (
            "port",
            "max_body_bytes",
            "launch_ttl_s",
            "fhir_max_pages",
            "compute_threads",
            "blas_threads",
        ):
            if (v := get(key.upper())) is not None:
                values[key] = int(v)
        for key in ("cds_dev_no_auth", "warm_parser"):
            if (v := get(key.upper())) is not None:
                values[key] = v.lower() in ("1", "true", "yes", "on")
        if (v := get("CDS_ISSUERS")) is not None:
            values["cds_issuers"] = json.loads(v)
        if (v := get("FHIR_ALLOW")) is not None:
            values["fhir_allow"] = tuple(p.strip() for p in v.split(",") if p.strip())
        if (v := get("LAUNCH_SECRET")) is not None:
            values["launch_secret"] = SecretStr(v)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
