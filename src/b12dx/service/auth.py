"""CDS Hooks 2.0 client authentication: a JWT signed by the EHR, checked per request.

Checks, in order (any failure is 401 with ``WWW-Authenticate: Bearer``):

1. ``Authorization: Bearer <jwt>`` is present;
2. the header's ``alg`` is asymmetric and allowed (``none`` and HMAC are forbidden by the spec);
3. ``iss`` is on the allow-list (``B12DX_CDS_ISSUERS``: issuer -> JWKS URL or inline JWKS), and a
   ``jku`` header, if sent, is exactly that issuer's JWKS URL;
4. the signature verifies with the issuer's key (by ``kid``), and ``aud`` equals the URL of the
   service being called, ``exp`` is in the future, and ``iat`` and ``jti`` are present;
5. the ``jti`` was not seen before from that issuer (replay), remembered until ``exp``.

JWKS documents are fetched with an async HTTP client and cached for ``jwks_cache_s`` seconds.
With ``B12DX_CDS_DEV_NO_AUTH=1`` every check is skipped (a warning is logged at start-up).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException

from .settings import Settings

__all__ = ["CdsAuth"]

_MAX_JTI = 100_000


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=401, detail=detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


class CdsAuth:
    """Verifies CDS Hooks JWTs; holds the JWKS cache and the seen-``jti`` set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: dict[str, tuple[float, dict[str, Any]]] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None, audiences: Sequence[str]) -> dict[str, Any]:
        """The verified claims (empty in development mode without authentication)."""
        import jwt

        if self.settings.cds_dev_no_auth:
            return {}
        if not authorization or not authorization.lower().startswith("bearer "):
            raise _unauthorized("a CDS Hooks request needs 'Authorization: Bearer <JWT>'")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _unauthorized("the bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if alg not in self.settings.cds_algorithms:
            raise _unauthorized(
                f"JWT algorithm {alg!r} is not accepted; use one of "
                f"{', '.join(self.settings.cds_algorithms)}"
            )
        iss = unverified.get("iss")
        if not isinstance(iss, str) or iss not in self.settings.cds_issuers:
            raise _unauthorized("the JWT issuer is not on this service's allow-list")
        source = self.settings.cds_issuers[iss]
        jku = header.get("jku")
        if jku is not None and (not isinstance(source, str) or jku != source):
            raise _unauthorized("the JWT 'jku' is not the JWKS URL registered for its issuer")
        key = await self._key(source, header.get("kid"), alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(audiences),
                issuer=iss,
                leeway=self.settings.cds_clock_skew_s,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the JWT has expired") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized("the JWT 'aud' is not this service's URL") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _unauthorized(f"the JWT lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise _unauthorized("the JWT signature or claims are invalid") from None
        await self._check_replay(iss, str(claims["jti"]), float(claims["exp"]))
        return claims

    async def _check_replay(self, iss: str, jti: str, exp: float) -> None:
        now = time.time()
        async with self._lock:
            if len(self._seen) >= _MAX_JTI:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if (iss, jti) in self._seen:
                raise _unauthorized("the JWT 'jti' was already used (replay)")
            self._seen[(iss, jti)] = exp + self.settings.cds_clock_skew_s

    async def _key(self, source: str | dict[str, Any], kid: Any, alg: str) -> Any:
        import jwt

        jwks = source if isinstance(source, dict) else await self._fetch_jwks(source)
        keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]
        if kid is not None:
            keys = [k for k in keys if k.get("kid") == kid]
        if len(keys) != 1:
            raise _unauthorized("no single key in the issuer's JWKS matches the JWT 'kid'")
        try:
            return jwt.PyJWK(keys[0], algorithm=alg).key
        except jwt.PyJWTError:
            raise _unauthorized("the issuer's key cannot be used with the JWT algorithm") from None

    async def _fetch_jwks(self, url: str) -> dict[str, Any]:
        import httpx

        cached = self._jwks.get(url)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=self.settings.fhir_timeout_s) as client:
                resp = await client.get(url, headers={"Accept": "application/json"})
                resp.raise_for_status()
                jwks = resp.json()
        except (httpx.HTTPError, ValueError):
            raise _unauthorized("the issuer's JWKS could not be fetched") from None
        if not isinstance(jwks, dict):
            raise _unauthorized("the issuer's JWKS is not a JSON object")
        self._jwks[url] = (now + self.settings.jwks_cache_s, jwks)
        return jwks
