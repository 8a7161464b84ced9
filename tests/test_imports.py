"""Importing b12dx stays cheap: no heavy front-end library is loaded."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "fastapi",
    "polars",
    "pyarrow",
    "pyspark",
    "spacy",
    "medspacy",
    "sqlalchemy",
    "matplotlib",
    "uvicorn",
    "duckdb",
    "pandas",
]


def test_import_b12dx_loads_no_heavy_library():
    code = (
        "import sys, json, b12dx, b12dx.assessment; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_cli_help_loads_no_heavy_library():
    code = (
        "import sys, json\nfrom b12dx.cli import app\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert not set(json.loads(out)) & set(HEAVY)
