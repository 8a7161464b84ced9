"""Shared helpers for the service, FHIR, CDS Hooks and interview tests (not a test module).

* ``test_kb()``: the packaged KB (``B12DX_TEST_KB`` points at another folder while developing);
* ``make_app(kb, **settings)``: the real app with ``get_kb`` overridden;
* ``FhirServer``: a small real HTTP server on 127.0.0.1 that answers FHIR reads and searches
  from an in-memory set of resources, serves a JWKS, and records what it was asked;
* ``Signer``: an EC P-384 key pair that mints CDS Hooks JWTs (ES384) and publishes its JWKS.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from b12dx.kb import KnowledgeBase, load_kb

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "fhir"


def service_kb() -> KnowledgeBase:
    folder = os.environ.get("B12DX_TEST_KB")
    return load_kb(folder) if folder else load_kb()


def load_fixture(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


def make_app(kb: KnowledgeBase, *, optional_routers: bool = True, **settings: Any) -> Any:
    from b12dx.service.app import create_app
    from b12dx.service.deps import get_kb
    from b12dx.service.settings import Settings

    app = create_app(Settings(**settings), optional_routers=optional_routers)
    app.dependency_overrides[get_kb] = lambda: kb
    return app


class FhirServer:
    """A loopback FHIR server: ``GET [type]/[id]`` and ``GET [type]?patient=..``."""

    def __init__(
        self,
        resources: list[Mapping[str, Any]],
        *,
        jwks: Mapping[str, Any] | None = None,
        page_size: int = 0,
    ) -> None:
        self.resources = list(resources)
        self.jwks = jwks
        self.page_size = page_size
        self.requests: list[tuple[str, str | None]] = []  # (path?query, Authorization)
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/fhir"

    def _search(self, rtype: str, query: dict[str, list[str]]) -> list[Mapping[str, Any]]:
        pid = (query.get("patient") or query.get("subject") or [None])[0]
        out = []
        for r in self.resources:
            if r.get("resourceType") != rtype:
                continue
            subject = (r.get("subject") or r.get("patient") or {}).get("reference", "")
            if pid is not None and subject.split("/")[-1] != pid:
                continue
            if (
                rtype == "MedicationRequest"
                and "status" in query
                and r.get("status") not in query["status"][0].split(",")
            ):
                continue
            if rtype == "Observation" and "code" in query:
                wanted = set(query["code"][0].split(","))
                codes = {
                    f"{c.get('system')}|{c.get('code')}"
                    for c in (r.get("code") or {}).get("coding", [])
                }
                if not wanted & codes:
                    continue
            out.append(r)
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Authorization")))
                parts = urlsplit(self.path)
                if parts.path == "/jwks.json" and server.jwks is not None:
                    self._send(200, server.jwks)
                    return
                path = parts.path.removeprefix("/fhir/").strip("/")
                query = parse_qs(parts.query)
                if "/" in path:
                    rtype, rid = path.split("/", 1)
                    for r in server.resources:
                        if r.get("resourceType") == rtype and r.get("id") == rid:
                            self._send(200, r)
                            return
                    self._send(
                        404,
                        {
                            "resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "not-found"}],
                        },
                    )
                    return
                found = server._search(path, query)
                page = int((query.get("_page") or ["0"])[0])
                links = []
                if server.page_size:
                    start = page * server.page_size
                    if start + server.page_size < len(found):
                        nxt = f"{server.url}/{path}?{parts.query}&_page={page + 1}"
                        links.append({"relation": "next", "url": nxt})
                    found = found[start : start + server.page_size]
                self._send(
                    200,
                    {
                        "resourceType": "Bundle",
                        "type": "searchset",
                        "total": len(found),
                        "link": links,
                        "entry": [{"resource": r} for r in found],
                    },
                )

        return Handler

    @contextmanager
    def running(self) -> Iterator[FhirServer]:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(timeout=5)


class Signer:
    """Mints CDS Hooks JWTs with an EC P-384 key (ES384, as the spec recommends)."""

    def __init__(self, iss: str = "https://ehr.example.org", kid: str = "key-1") -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.iss = iss
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP384R1())

    @property
    def jwks(self) -> dict[str, Any]:
        import jwt

        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES384"})
        return {"keys": [jwk]}

    def token(
        self,
        aud: str,
        *,
        exp_in: float = 300,
        jti: str | None = None,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        import jwt

        now = time.time()
        payload = {
            "iss": self.iss,
            "aud": aud,
            "iat": int(now),
            "exp": int(now + exp_in),
            "jti": jti or str(uuid.uuid4()),
            **claims,
        }
        return jwt.encode(
            payload,
            self.key,
            algorithm="ES384",
            headers={"kid": self.kid, "typ": "JWT", **(headers or {})},
        )
