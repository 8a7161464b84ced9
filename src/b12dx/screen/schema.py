"""The screening table: one row per person, its columns derived from the knowledge base.

Columns (all optional except ``age`` and ``sex``; a missing column is read as all-null):

==========================  ==========  =======================================================
column                      type        meaning
==========================  ==========  =======================================================
``id``                      string      person identifier (row number when absent)
``age``                     float64     years (16 and over)
``sex``                     string      ``female`` / ``male`` (``f``, ``m`` accepted)
``pregnant``                bool        null reads as false
``breastfeeding``           bool        null reads as false
``as_of``                   date32      index date of the row (``--as-of`` when null)
``<evidence id>``           bool        true present, false absent, null unknown
``<drug class>``            bool        taking the drug class (null and years given: taking)
``<drug class>_years``      float64     years of use (null: not stated)
``<lab test>``              float64     latest value
``<lab test>_unit``         string      its unit (null: the test's canonical unit)
``<lab test>_date``         date32      when it was taken (optional)
==========================  ==========  =======================================================

Evidence ids are the KB's findings (other than lab findings) and risk factors; ``b12dx kb
findings`` lists them. A medicine in several classes (``also`` in medications.toml) sets each of
its class columns, as ``normalise()`` lists it under each class. A mapping file renames other
column names to these (see ``mapping.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from ..errors import KnowledgeBaseError
from ..kb import KnowledgeBase

__all__ = ["ColumnKind", "ScreenColumn", "ScreenSchema", "screen_schema"]

ColumnKind = Literal[
    "id",
    "age",
    "sex",
    "flag",
    "date",
    "evidence",
    "drug",
    "drug_years",
    "lab",
    "lab_unit",
    "lab_date",
]
ArrowType = Literal["string", "float64", "bool", "date32"]

_TYPES: dict[ColumnKind, ArrowType] = {
    "id": "string",
    "age": "float64",
    "sex": "string",
    "flag": "bool",
    "date": "date32",
    "evidence": "bool",
    "drug": "bool",
    "drug_years": "float64",
    "lab": "float64",
    "lab_unit": "string",
    "lab_date": "date32",
}


@dataclass(frozen=True)
class ScreenColumn:
    """One column of the screening table."""

    name: str
    kind: ColumnKind
    type: ArrowType
    ref: str | None  # the evidence id, drug class or lab test it carries
    description: str


@dataclass(frozen=True, eq=False)
class ScreenSchema:
    """The screening table's columns for one knowledge base."""

    columns: tuple[ScreenColumn, ...]
    evidence_ids: tuple[str, ...]
    drug_ids: tuple[str, ...]
    lab_ids: tuple[str, ...]
    lab_units: dict[str, str]  # canonical unit of each lab test

    @cached_property
    def by_name(self) -> dict[str, ScreenColumn]:
        return {c.name: c for c in self.columns}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def arrow_schema(self) -> object:
        """The ``pyarrow.Schema`` the readers produce."""
        import pyarrow as pa

        types = {
            "string": pa.string(),
            "float64": pa.float64(),
            "bool": pa.bool_(),
            "date32": pa.date32(),
        }
        return pa.schema([pa.field(c.name, types[c.type]) for c in self.columns])


def _build(kb: KnowledgeBase) -> ScreenSchema:
    cols: list[ScreenColumn] = [
        ScreenColumn("id", "id", "string", None, "person identifier"),
        ScreenColumn("age", "age", "float64", None, "age in years"),
        ScreenColumn("sex", "sex", "string", None, "female or male"),
        ScreenColumn("pregnant", "flag", "bool", None, "currently pregnant"),
        ScreenColumn("breastfeeding", "flag", "bool", None, "currently breastfeeding"),
        ScreenColumn("as_of", "date", "date32", None, "index date for date-based flags"),
    ]
    evidence = tuple(kb.evidence_ids)
    for eid in evidence:
        f = kb.finding_by_id.get(eid)
        name = f.name if f is not None else kb.risk_factor_by_id[eid].name
        cols.append(ScreenColumn(eid, "evidence", "bool", eid, name))
    drugs = tuple(d.id for d in kb.drug_classes)
    for d in kb.drug_classes:
        cols.append(ScreenColumn(d.id, "drug", "bool", d.id, f"taking {d.name}"))
        cols.append(
            ScreenColumn(f"{d.id}_years", "drug_years", "float64", d.id, f"years of {d.name} use")
        )
    labs = tuple(t.id for t in kb.labs)
    for t in kb.labs:
        cols.append(ScreenColumn(t.id, "lab", "float64", t.id, f"{t.name} (latest value)"))
        cols.append(
            ScreenColumn(
                f"{t.id}_unit", "lab_unit", "string", t.id, f"unit of {t.id} (default {t.unit})"
            )
        )
        cols.append(
            ScreenColumn(f"{t.id}_date", "lab_date", "date32", t.id, f"date of the {t.id} result")
        )
    seen: dict[str, ScreenColumn] = {}
    from ..errors import Issue

    problems = []
    for c in cols:
        if c.name in seen:
            problems.append(
                Issue(
                    "screening table",
                    f"column {c.name!r} is defined twice ({seen[c.name].kind} and {c.kind})",
                )
            )
        seen[c.name] = c
    if problems:
        raise KnowledgeBaseError(problems)
    return ScreenSchema(tuple(cols), evidence, drugs, labs, {t.id: t.unit for t in kb.labs})


_cache: dict[str, ScreenSchema] = {}


def screen_schema(kb: KnowledgeBase) -> ScreenSchema:
    """The screening table schema for *kb* (cached per KB content hash)."""
    key = kb.sha256 or str(id(kb))
    got = _cache.get(key)
    if got is None:
        got = _cache[key] = _build(kb)
    return got
