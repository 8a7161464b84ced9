"""The b12dx HTTP service (FastAPI): REST API, FHIR, CDS Hooks 2.0 and the web pages.

Build it with ``create_app()``; run it with ``b12dx serve``. Importing ``b12dx`` never imports
this package (FastAPI is an optional extra: ``pip install 'b12dx[service]'``).
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
