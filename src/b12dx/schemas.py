"""JSON Schemas for the Case and the Assessment, generated from the pydantic models.

``python -m b12dx.schemas DIR`` writes ``case.schema.json`` and ``assessment.schema.json``;
a test checks that the committed copies in ``schemas/`` are up to date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .case import Case
from .result import Assessment

__all__ = ["SCHEMAS", "schema_texts", "write_schemas"]

SCHEMAS: dict[str, type[Case] | type[Assessment]] = {
    "case.schema.json": Case,
    "assessment.schema.json": Assessment,
}


def _schema(model: type[Case] | type[Assessment], ident: str) -> dict[str, Any]:
    body = model.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://b12dx.example.org/schemas/{ident}",
        **body,
    }


def schema_texts() -> dict[str, str]:
    return {
        name: json.dumps(_schema(model, name), indent=2, sort_keys=True) + "\n"
        for name, model in SCHEMAS.items()
    }


def write_schemas(directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in schema_texts().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover
    for p in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(p)
