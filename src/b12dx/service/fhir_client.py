"""Read prefetch data a CDS client did not send, from its ``fhirServer``, asynchronously.

Queries run concurrently; searchset Bundles are followed through ``next`` links for at most
``fhir_max_pages`` pages. A query that fails is left out (the assessment goes on with what
there is) and logged by status code only, never with content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from .settings import Settings

__all__ = ["fetch_queries"]

log = logging.getLogger("b12dx.service.fhir")


def allowed(server: str, settings: Settings) -> bool:
    return not settings.fhir_allow or any(server.startswith(p) for p in settings.fhir_allow)


async def fetch_queries(
    server: str, token: str | None, queries: Mapping[str, str], *, settings: Settings
) -> dict[str, Any]:
    """``{key: resource or Bundle}`` for each relative FHIR query that could be read."""
    import httpx

    if not allowed(server, settings):
        log.warning("fhirServer is not on B12DX_FHIR_ALLOW; not fetching prefetch data")
        return {}
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = server.rstrip("/") + "/"
    try:
        httpx.URL(base)
    except (httpx.InvalidURL, ValueError):
        log.warning("fhirServer is not a valid URL; not fetching prefetch data")
        return {}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=settings.fhir_timeout_s
    ) as client:

        async def one(key: str, query: str) -> tuple[str, Any]:
            try:
                resp = await client.get(query.lstrip("/"))
                resp.raise_for_status()
                data = resp.json()
                pages = 1
                while (
                    isinstance(data, dict)
                    and data.get("resourceType") == "Bundle"
                    and pages < settings.fhir_max_pages
                ):
                    nxt = next(
                        (
                            link.get("url")
                            for link in data.get("link") or ()
                            if isinstance(link, dict) and link.get("relation") == "next"
                        ),
                        None,
                    )
                    if not isinstance(nxt, str) or not nxt.startswith(base.rstrip("/")):
                        break
                    more = await client.get(nxt)
                    more.raise_for_status()
                    page = more.json()
                    data = {
                        **data,
                        "link": page.get("link", []),
                        "entry": [*(data.get("entry") or ()), *(page.get("entry") or ())],
                    }
                    pages += 1
                return key, data
            except httpx.HTTPStatusError as exc:
                log.warning("FHIR query %r failed with HTTP %d", key, exc.response.status_code)
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
                log.warning("FHIR query %r failed: %s", key, type(exc).__name__)
            return key, None

        results = await asyncio.gather(*(one(k, q) for k, q in queries.items()))
    return {k: v for k, v in results if v is not None}
