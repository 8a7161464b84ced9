"""Longitudinal records: labs, symptom diary, treatments, assessments and reviews per person.

Storage is SQLAlchemy 2 with Alembic migrations: a SQLite file in the user's data directory by
default (WAL mode), PostgreSQL when ``B12DX_DATABASE_URL`` points at one. Importing this package
does not import SQLAlchemy; ``open_store()`` does.

    >>> from b12dx.store import open_store, LabIn        # doctest: +SKIP
    >>> store = open_store("sqlite:////tmp/records.sqlite3")
    >>> store.add_lab("p1", LabIn(test="b12_total", value=150, unit="ng/L",
    ...                           date="2026-01-05"), create=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import (
    RECORDS_SCHEMA,
    Assessment,
    Lab,
    LabIn,
    Person,
    PersonIn,
    Review,
    ReviewIn,
    Symptoms,
    SymptomsIn,
    Timeline,
    Treatment,
    TreatmentIn,
    User,
)

if TYPE_CHECKING:
    from ..kb import KnowledgeBase
    from .repo import Store

__all__ = [
    "RECORDS_SCHEMA",
    "Assessment",
    "Lab",
    "LabIn",
    "Person",
    "PersonIn",
    "Review",
    "ReviewIn",
    "Symptoms",
    "SymptomsIn",
    "Timeline",
    "Treatment",
    "TreatmentIn",
    "User",
    "open_store",
]


def open_store(
    url: str | None = None, *, kb: KnowledgeBase | None = None, migrate_schema: bool = True
) -> Store:
    """Open (and migrate) the record store; see ``b12dx.store.repo.open_store``."""
    try:
        from .repo import open_store as _open
    except ModuleNotFoundError as exc:
        from ..errors import MissingExtraError

        raise MissingExtraError("the record store", "store", exc.name or "sqlalchemy") from None
    return _open(url, kb=kb, migrate_schema=migrate_schema)
