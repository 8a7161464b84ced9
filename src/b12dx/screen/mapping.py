"""The mapping file: how another table's columns and codes map onto the screening table.

A TOML file; every section is optional::

    [columns]            # screening-table column = column name in your file
    id = "patient_id"
    age = "AGE_YEARS"
    b12_total = "B12"
    b12_total_unit = "B12_UNIT"

    [values.sex]         # your code = b12dx value
    F = "female"
    M = "male"

    [booleans]           # spellings read as true / false (case-insensitive)
    true = ["y", "yes", "1", "true", "t"]
    false = ["n", "no", "0", "false", "f"]

    [units]              # unit of a lab column when there is no unit column
    b12_total = "pmol/L"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError, UnknownIdError
from .schema import ScreenSchema

__all__ = ["DEFAULT_FALSE", "DEFAULT_TRUE", "Mapping", "load_mapping"]

DEFAULT_TRUE = ("true", "t", "yes", "y", "1", "present")
DEFAULT_FALSE = ("false", "f", "no", "n", "0", "absent")


class Booleans(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    true: tuple[str, ...] = DEFAULT_TRUE
    false: tuple[str, ...] = DEFAULT_FALSE


class Mapping(BaseModel):
    """Column renames, value codes, boolean spellings and default units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    booleans: Booleans = Booleans()
    units: dict[str, str] = Field(default_factory=dict)

    def source_name(self, column: str) -> str:
        """The input file's name for a screening-table column."""
        return self.columns.get(column, column)

    def check(self, schema: ScreenSchema, *, where: str) -> None:
        """Every mapped name must be a screening-table column (with suggestions if not)."""
        for name in self.columns:
            if name not in schema.by_name:
                raise UnknownIdError(
                    "screening-table column", name, schema.names, where=f"{where} [columns]"
                )
        for name in self.values:
            if name not in schema.by_name:
                raise UnknownIdError(
                    "screening-table column", name, schema.names, where=f"{where} [values]"
                )
        for name in self.units:
            if name not in schema.lab_ids:
                raise UnknownIdError("lab test", name, schema.lab_ids, where=f"{where} [units]")


def load_mapping(path: str | Path | None, schema: ScreenSchema) -> Mapping:
    """Read and check a mapping file (``None``: the identity mapping)."""
    if path is None:
        return Mapping()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the mapping file {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"the mapping file {p} is not valid TOML: {exc}") from None
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InputError(f"the mapping file {p} is not valid: {msgs}") from None
    mapping.check(schema, where=str(p))
    return mapping
