"""A FHIR Bulk Data export folder (``*.ndjson``) as a screening table.

Bulk Data writes one file per resource type, so one person's resources are spread over several
files. Schema inference is a known trap with this shape (readers that sample the first lines drop
keys first seen later, or fail on sparse fields), so nothing is inferred: each line is parsed as
raw JSON and only the patient reference is extracted here. Lines are spilled to a temporary
SQLite file keyed by patient, so memory does not grow with the export; then each patient's
resources are mapped by ``b12dx.fhir.case_from_fhir`` — the same mapping the service uses for a
Bundle (codes, statuses, units, latest result per test) — and the resulting Case becomes one
screening-table row. A patient whose resources cannot be mapped becomes a row whose ``_error``
says why, so it lands in the rejects file. Rows come in the order patients first appear.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..case import Case, resolve_medication_classes
from ..errors import B12dxError
from ..kb import KnowledgeBase
from ..labs import resolve_test
from .schema import ScreenSchema

__all__ = ["bulk_rows", "case_row", "read_bulk_folder"]

_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "DiagnosticReport",
    "Medication",
)


def _lines(path: Path) -> Iterator[str]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        yield from fh


def _patient_of(res: dict[str, Any]) -> str | None:
    if res.get("resourceType") == "Patient":
        return str(res.get("id")) if res.get("id") is not None else None
    for key in ("subject", "patient"):
        ref = res.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            r = ref["reference"]
            return str(r.split("/", 1)[1] if r.startswith("Patient/") else r)
    return None


def case_row(case: Case, kb: KnowledgeBase, schema: ScreenSchema) -> dict[str, Any]:
    """A screening-table row holding what *case* says."""
    row: dict[str, Any] = {
        "id": case.id,
        "age": case.age,
        "sex": case.sex,
        "pregnant": case.pregnant,
        "breastfeeding": case.breastfeeding,
    }
    for e in case.evidence:
        if e.state != "unknown" and e.id in schema.by_name:
            row[e.id] = e.state == "present"
    for i, m in enumerate(case.medications):
        # every class of the medicine, as normalise() does: the table has one column per class
        for cls in resolve_medication_classes(m, kb, where=f"medications[{i}]"):
            row[cls] = True
            if m.years is not None:
                row[f"{cls}_years"] = max(m.years, row.get(f"{cls}_years") or 0.0)
    for i, lab in enumerate(case.labs):
        test = resolve_test(kb, lab.test, lab.loinc, where=f"labs[{i}]")
        row[test.id] = lab.value
        row[f"{test.id}_unit"] = lab.unit
        if lab.date is not None:
            row[f"{test.id}_date"] = lab.date
    return row


def bulk_rows(
    folder: Path, kb: KnowledgeBase, schema: ScreenSchema, *, as_of: dt.date
) -> Iterator[dict[str, Any]]:
    """One row dict per patient (with ``_error`` set when the patient cannot be mapped)."""
    from ..fhir import case_from_fhir

    files = sorted(
        p for p in folder.iterdir() if p.name.endswith(".ndjson") or p.name.endswith(".ndjson.gz")
    )
    # Patient files first, so that row order follows the Patient export.
    files.sort(key=lambda p: (not p.name.startswith("Patient"), p.name))
    with tempfile.TemporaryDirectory(prefix="b12dx-bulk-") as tmp:
        db = sqlite3.connect(Path(tmp) / "spill.sqlite")
        db.execute("CREATE TABLE res (patient TEXT, body TEXT)")
        unreadable: list[str] = []
        for path in files:
            batch: list[tuple[str, str]] = []
            for n, line in enumerate(_lines(path), start=1):
                if not line.strip():
                    continue
                try:
                    res = json.loads(line)
                except ValueError:
                    unreadable.append(f"{path.name} line {n}")
                    continue
                if not isinstance(res, dict) or res.get("resourceType") not in _TYPES:
                    continue
                pid = _patient_of(res)
                if pid is None:
                    continue
                batch.append((pid, line))
                if len(batch) >= 10_000:
                    db.executemany("INSERT INTO res VALUES (?, ?)", batch)
                    batch = []
            db.executemany("INSERT INTO res VALUES (?, ?)", batch)
        db.execute("CREATE INDEX res_patient ON res (patient)")
        db.commit()
        order = db.execute("SELECT patient FROM res GROUP BY patient ORDER BY MIN(rowid)")
        for (pid,) in order.fetchall():
            bodies = [
                json.loads(b)
                for (b,) in db.execute(
                    "SELECT body FROM res WHERE patient = ? ORDER BY rowid", (pid,)
                )
            ]
            try:
                imported = case_from_fhir(bodies, kb=kb, as_of=as_of, case_id=pid)
                row = case_row(imported.case, kb, schema)
            except B12dxError as exc:
                row = {"id": pid, "_error": f"Patient/{pid}: {exc}"}
            yield row
        db.close()
        if unreadable:
            yield {
                "id": None,
                "_error": "lines that are not JSON: "
                + ", ".join(unreadable[:20])
                + (" ..." if len(unreadable) > 20 else ""),
            }


def read_bulk_folder(
    folder: Path, kb: KnowledgeBase, schema: ScreenSchema, *, as_of: dt.date, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The export as record batches in the screening table's schema (plus ``_error``)."""
    arrow = schema.arrow_schema()
    assert isinstance(arrow, pa.Schema)
    fields = [*arrow, pa.field("_error", pa.string())]
    out_schema = pa.schema(fields)
    buf: list[dict[str, Any]] = []
    for row in bulk_rows(folder, kb, schema, as_of=as_of):
        buf.append(row)
        if len(buf) >= batch_rows:
            yield pa.RecordBatch.from_pylist(buf, schema=out_schema)
            buf = []
    if buf:
        yield pa.RecordBatch.from_pylist(buf, schema=out_schema)
