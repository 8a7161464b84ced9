"""Export and import of records as JSON Lines (schema ``b12dx/records/v1``).

One JSON object per line, keys sorted, no timestamp of its own, so exporting the same records
twice gives the same bytes. The first line is a header; then, person by person (in ref order),
the person and their labs, symptom diary, treatments, assessments and reviews, each in date
order::

    {"b12dx_version":"0.1.0","kind":"header","schema":"b12dx/records/v1"}
    {"breastfeeding":false,"conditions":[],"created_at":"2026-01-02T09:00:00Z","kind":"person",...}
    {"created_at":"...","date":"2026-01-05","kind":"lab","note":null,"person":"p1","test":"b12_total",...}

Import is idempotent: every record keeps its ``uid``, and a record already present is skipped,
so an interrupted import can simply be run again. It commits every ``batch_size`` lines; a
bad line is rejected with its line number and reason while the rest goes on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError

from ..errors import InputError
from . import tables as t
from .records import (
    RECORDS_SCHEMA,
    LabIn,
    PersonIn,
    ReviewIn,
    SymptomsIn,
    Timeline,
    TreatmentIn,
)
from .repo import Store

__all__ = ["ImportReport", "export_lines", "import_lines"]

DEFAULT_BATCH_SIZE = 500


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _stamp(value: dt.datetime) -> str:
    return value.isoformat() + "Z"  # stored as naive UTC


def _record(kind: str, ref: str, model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json")
    data["created_at"] = _stamp(getattr(model, "created_at"))  # noqa: B009
    data.update(kind=kind, person=ref)
    return data


def timeline_lines(tl: Timeline) -> Iterator[str]:
    """The JSON Lines of one person's records (no header)."""
    ref = tl.person.ref
    person = tl.person.model_dump(mode="json")
    person.update(kind="person", created_at=_stamp(tl.person.created_at))
    yield _dumps(person)
    for lab in tl.labs:
        yield _dumps(_record("lab", ref, lab))
    for entry in tl.symptoms:
        yield _dumps(_record("symptoms", ref, entry))
    for course in tl.treatments:
        yield _dumps(_record("treatment", ref, course))
    for a in tl.assessments:
        yield _dumps(_record("assessment", ref, a))
    for r in tl.reviews:
        yield _dumps(_record("review", ref, r))


def header_line() -> str:
    from .. import __version__

    return _dumps({"kind": "header", "schema": RECORDS_SCHEMA, "b12dx_version": __version__})


def export_lines(
    store: Store, *, owner: int | None = None, refs: Sequence[str] | None = None
) -> Iterator[str]:
    """Every record of *owner* (or of the people in *refs*) as JSON Lines, header first."""
    yield header_line()
    for tl in store.timelines(owner=owner, refs=refs):
        yield from timeline_lines(tl)


@dataclass
class ImportReport:
    """What an import did: records added, records already present, lines rejected."""

    lines: int = 0
    added: int = 0
    skipped: int = 0
    committed: int = 0  # records added and committed so far
    rejected: list[tuple[int, str]] = field(default_factory=list)


_EVENT_TABLES: dict[str, tuple[sa.Table, type[BaseModel]]] = {
    "lab": (t.labs, LabIn),
    "symptoms": (t.symptoms, SymptomsIn),
    "treatment": (t.treatments, TreatmentIn),
    "review": (t.reviews, ReviewIn),
    "assessment": (t.assessments, BaseModel),
}


class _Importer:
    def __init__(self, store: Store, owner: int | None) -> None:
        self.store = store
        self.owner = owner
        self.person_ids: dict[str, int] = {}

    def _person_id(self, conn: sa.Connection, ref: Any) -> int:
        if not isinstance(ref, str):
            raise InputError("'person' must be the ref of a person line above", where="person")
        if ref not in self.person_ids:
            row = conn.execute(
                sa.select(t.people.c.id).where(
                    t.people.c.ref == ref, self.store._owner_clause(self.owner)
                )
            ).first()
            if row is None:
                raise InputError(
                    f"person {ref!r} has no person line before this one", where="person"
                )
            self.person_ids[ref] = int(row.id)
        return self.person_ids[ref]

    def _exists(
        self, conn: sa.Connection, table: sa.Table, uid: Any, person_id: int | None
    ) -> bool:
        if not isinstance(uid, str):
            return False
        row = conn.execute(sa.select(table).where(table.c.uid == uid)).first()
        if row is None:
            return False
        same_owner = (
            (row.owner_id == self.owner) if table is t.people else row.person_id == person_id
        )
        if not same_owner:
            raise InputError(f"uid {uid} already belongs to another record set", where="uid")
        return True

    def line(self, conn: sa.Connection, data: dict[str, Any]) -> bool | None:
        """Import one record: True when added, False when already there, None for a header."""
        kind = data.pop("kind", None)
        if kind == "header":
            if data.get("schema") != RECORDS_SCHEMA:
                raise InputError(
                    f"schema {data.get('schema')!r} is not {RECORDS_SCHEMA}", where="schema"
                )
            return None
        if kind == "person":
            person = PersonIn.model_validate(data)
            row = conn.execute(
                sa.select(t.people.c.id).where(
                    t.people.c.ref == person.ref, self.store._owner_clause(self.owner)
                )
            ).first()
            if row is not None:  # already there (from an earlier run, or by hand): merge
                self.person_ids[person.ref] = int(row.id)
                return False
            if self._exists(conn, t.people, person.uid, None):
                return False
            new = self.store._insert_person(conn, person, self.owner)
            self.person_ids[person.ref] = int(new.id)
            return True
        if kind not in _EVENT_TABLES:
            raise InputError(
                f"unknown kind {kind!r}; one of header, person, {', '.join(_EVENT_TABLES)}",
                where="kind",
            )
        person_id = self._person_id(conn, data.pop("person", None))
        table, model = _EVENT_TABLES[kind]
        if self._exists(conn, table, data.get("uid"), person_id):
            return False
        if kind == "assessment":
            created = data.get("created_at")
            day = dt.date.fromisoformat(str(data.get("date")))
            payload = data.get("data")
            if not isinstance(payload, dict):
                raise InputError("an assessment line needs 'data' (the assessment)", where="data")
            self.store.insert_assessment(
                conn,
                person_id,
                day,
                payload,
                uid=data.get("uid"),
                created_at=dt.datetime.fromisoformat(created) if created else None,
            )
            return True
        record = model.model_validate(data)
        inserts: dict[str, Callable[[sa.Connection, int, Any], str]] = {
            "lab": self.store.insert_lab,
            "symptoms": self.store.insert_symptoms,
            "treatment": self.store.insert_treatment,
            "review": self.store.insert_review,
        }
        inserts[kind](conn, person_id, record)
        return True


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
    )


def import_lines(
    store: Store,
    lines: Iterable[str],
    *,
    owner: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import JSON Lines records for *owner*, committing every *batch_size* lines."""
    if batch_size < 1:
        raise InputError("batch size must be at least 1", where="batch_size")
    report = ImportReport()
    importer = _Importer(store, owner)
    pending = 0  # records added in the open transaction
    with store.engine.connect() as conn:
        conn = conn.execution_options(b12dx_write=True)
        tx = conn.begin()
        try:
            for lineno, raw in enumerate(lines, start=1):
                text = raw.strip()
                if not text:
                    continue
                report.lines += 1
                try:
                    data = json.loads(text)
                    if not isinstance(data, dict):
                        raise InputError("a line must be a JSON object")
                    with conn.begin_nested():
                        added = importer.line(conn, data)
                except json.JSONDecodeError as exc:
                    report.rejected.append((lineno, f"not JSON: {exc.msg}"))
                    continue
                except RecursionError:
                    report.rejected.append((lineno, "nested too deeply"))
                    continue
                except ValidationError as exc:
                    report.rejected.append((lineno, _validation_message(exc)))
                    continue
                except (InputError, ValueError) as exc:
                    report.rejected.append((lineno, str(exc)))
                    continue
                if added:
                    report.added += 1
                    pending += 1
                elif added is not None:
                    report.skipped += 1
                if report.lines % batch_size == 0:
                    tx.commit()
                    report.committed += pending
                    pending = 0
                    if progress is not None:
                        progress(report)
                    tx = conn.begin()
            tx.commit()
            report.committed += pending
        except BaseException:
            tx.rollback()
            raise
    if progress is not None:
        progress(report)
    return report
