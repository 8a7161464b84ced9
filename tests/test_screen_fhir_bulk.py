"""A FHIR Bulk Data NDJSON folder screens like assess() on each patient's resources."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true":  # in CI a missing extra must fail, not skip
    pytest.importorskip("pyarrow", reason="needs the 'screen' extra")
import pyarrow.csv as pacsv

from b12dx import assess
from b12dx.fhir import case_from_fhir
from b12dx.kb import KnowledgeBase
from b12dx.screen.run import RunConfig, run_screen

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = (
    ROOT / "tests" / "fixtures" / "fhir" / "scenarios" / "metformin-neuropathy-transaction.json"
)
AS_OF = dt.date(2026, 6, 1)


def _resources() -> list[dict[str, Any]]:
    bundle = json.loads(SCENARIO.read_text(encoding="utf-8"))
    return [e["resource"] for e in bundle["entry"]]


def _as_patient(resources: list[dict[str, Any]], pid: str) -> list[dict[str, Any]]:
    out = []
    for r in copy.deepcopy(resources):
        if r["resourceType"] == "Patient":
            r["id"] = pid
        else:
            r["id"] = f"{pid}-{r.get('id')}"
            for key in ("subject", "patient"):
                if key in r:
                    r[key] = {"reference": f"Patient/{pid}"}
        out.append(r)
    return out


def _write_bulk(folder: Path, patients: list[list[dict[str, Any]]]) -> None:
    by_type: dict[str, list[str]] = {}
    for resources in patients:
        for r in resources:
            by_type.setdefault(r["resourceType"], []).append(json.dumps(r))
    folder.mkdir()
    for kind, lines in by_type.items():
        if kind == "Observation":  # one gzipped file, as some servers export
            with gzip.open(folder / f"{kind}.ndjson.gz", "wt", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
        else:
            (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_bulk_folder_equals_assess_per_patient(kb: KnowledgeBase, tmp_path: Path) -> None:
    base = _resources()
    one, two = _as_patient(base, "p1"), _as_patient(base, "p2")
    two[0]["gender"] = "male"
    nobirth = _as_patient(base, "p3")
    del nobirth[0]["birthDate"]
    folder = tmp_path / "export"
    _write_bulk(folder, [one, two, nobirth])
    out = tmp_path / "out.csv"
    summary = run_screen(
        RunConfig(input=folder, output=out, as_of=AS_OF, progress=False, no_report=True), kb
    )
    got = {
        r["id"]: r
        for r in pacsv.read_csv(
            out, convert_options=pacsv.ConvertOptions(column_types={"id": "string"})
        ).to_pylist()
    }
    assert set(got) == {"p1", "p2"}
    rejects = pacsv.read_csv(summary.rejects).to_pylist()
    assert [r["id"] for r in rejects] == ["p3"] and "birthDate" in rejects[0]["reason"]
    for pid, resources in (("p1", one), ("p2", two)):
        case = case_from_fhir(resources, kb=kb, as_of=AS_OF).case
        # the screening table has no column for a lab's own reference range
        case = case.model_copy(
            update={"labs": [lab.model_copy(update={"reference_range": None}) for lab in case.labs]}
        )
        a = assess(case, kb=kb)
        row = got[pid]
        for c in a.differential:
            assert row[f"p_{c.id}"] == pytest.approx(c.probability, abs=1e-9)
        assert row["triage_level"] == a.triage.level
        assert row["top_cause"] == a.differential[0].id
        assert (row["next_test"] or None) == (a.next_tests[0].test if a.next_tests else None)
