"""Read Parquet, CSV or a FHIR Bulk Data NDJSON folder as screening-table chunks.

Every reader yields ``pyarrow.RecordBatch`` chunks of exactly ``chunk_rows`` rows (the last may be
shorter) in the screening table's schema, plus two bookkeeping columns: ``_row`` (the 0-based row
number in the input) and ``_error`` (why a cell could not be read, or null). Chunk boundaries
depend only on the input and ``chunk_rows``, which is what makes ``--resume`` exact.

Types are never inferred: CSV is read as text and each column converted to its declared type; a
cell that does not convert marks its row with ``_error`` (the row goes to the rejects file) and
the rest of the chunk is kept.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..kb import KnowledgeBase
from .mapping import Mapping
from .schema import ScreenSchema

__all__ = ["InputFormat", "Source", "detect_format", "iter_chunks", "open_source", "standardize"]

InputFormat = Literal["parquet", "csv", "fhir"]
_PA_TYPES = {
    "string": pa.string(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date32": pa.date32(),
}


def detect_format(path: Path) -> InputFormat:
    if path.is_dir():
        if any(path.glob("*.ndjson")) or any(path.glob("*.ndjson.gz")):
            return "fhir"
        raise InputError(
            f"{path} is a folder without FHIR Bulk Data .ndjson files; give a "
            "Parquet file, a CSV file or a Bulk Data export folder"
        )
    suffix = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    if path.suffix.lower() in (".csv", ".tsv", ".txt") or suffix in (".csv.gz",):
        return "csv"
    raise InputError(
        f"cannot tell the format of {path.name}: use .parquet, .csv or a folder "
        "of FHIR .ndjson files"
    )


@dataclass
class Source:
    """An opened input: its format, total rows when known, and a batch iterator factory."""

    path: Path
    format: InputFormat
    total_rows: int | None
    columns: tuple[str, ...]  # the input's own column names


def open_source(path: Path) -> Source:
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path} is not a readable Parquet file: {exc}") from None
        return Source(path, fmt, meta.metadata.num_rows, tuple(meta.schema_arrow.names))
    if fmt == "csv":
        with _open_text(path) as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise InputError(f"{path} is empty: a CSV screening table needs a header row")
        return Source(path, fmt, None, tuple(h.strip() for h in header))
    return Source(path, fmt, None, ())


def _open_text(path: Path) -> Any:
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _raw_batches(
    source: Source,
    schema: ScreenSchema,
    mapping: Mapping,
    *,
    as_of: dt.date,
    batch_rows: int,
    kb: KnowledgeBase | None,
) -> Iterator[pa.RecordBatch]:
    wanted = {mapping.source_name(c) for c in schema.names}
    if source.format == "parquet":
        import pyarrow.parquet as pq

        # pre_buffer=False: with pre-buffering, pyarrow keeps the buffered ranges of every
        # row group read so far (the Arrow pool grew by ~1.6 MB per row group), so peak
        # memory grew with the input size
        pf = pq.ParquetFile(source.path, pre_buffer=False)
        cols = [c for c in source.columns if c in wanted]
        yield from pf.iter_batches(batch_size=batch_rows, columns=cols, use_threads=False)
    elif source.format == "csv":
        import pyarrow.csv as pacsv

        cols = [c for c in source.columns if c in wanted]
        delimiter = "\t" if source.path.suffix.lower() == ".tsv" else ","
        reader = pacsv.open_csv(
            source.path,
            read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in source.columns},
                include_columns=cols,
                strings_can_be_null=True,
                null_values=["", "NA", "NULL", "null", "NaN"],
            ),
        )
        yield from reader
    else:
        from ..kb import load_kb
        from .fhir_bulk import read_bulk_folder

        yield from read_bulk_folder(
            source.path, kb or load_kb(), schema, as_of=as_of, batch_rows=batch_rows
        )


def iter_chunks(
    source: Source,
    schema: ScreenSchema,
    mapping: Mapping,
    *,
    chunk_rows: int,
    as_of: dt.date,
    kb: KnowledgeBase | None = None,
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(chunk index, standardized chunk) pairs of exactly ``chunk_rows`` rows."""
    pending: list[pa.RecordBatch] = []
    held = 0
    index = 0
    start = 0
    for batch in _raw_batches(source, schema, mapping, as_of=as_of, batch_rows=chunk_rows, kb=kb):
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending)
            head = table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            yield index, standardize(head, schema, mapping, start_row=start)
            index += 1
            start += chunk_rows
            pending = rest.to_batches() if rest.num_rows else []
            held = rest.num_rows
    if held:
        yield index, standardize(pa.Table.from_batches(pending), schema, mapping, start_row=start)


# -- conversion to the declared types -------------------------------------------------------


class _Errors:
    def __init__(self, n: int) -> None:
        self.messages: list[str | None] = [None] * n

    def add(self, row: int, message: str) -> None:
        if self.messages[row] is None:
            self.messages[row] = message


def _strings(arr: pa.Array) -> list[str | None]:
    return [None if v is None else str(v).strip() for v in arr.to_pylist()]


def _to_float(arr: pa.Array, name: str, errors: _Errors) -> pa.Array:
    if (
        pa.types.is_floating(arr.type)
        or pa.types.is_integer(arr.type)
        or pa.types.is_decimal(arr.type)
    ):
        return pc.cast(arr, pa.float64())
    if pa.types.is_boolean(arr.type) or pa.types.is_null(arr.type):
        return pc.cast(arr, pa.float64())
    try:
        text = pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        return pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[float | None] = []
    for i, v in enumerate(_strings(arr)):
        if not v:
            out.append(None)
            continue
        try:
            out.append(float(v))
        except ValueError:
            errors.add(i, f"column {name!r}: {v!r} is not a number")
            out.append(None)
    return pa.array(out, pa.float64())


def _to_bool(arr: pa.Array, name: str, errors: _Errors, mapping: Mapping) -> pa.Array:
    if pa.types.is_boolean(arr.type):
        return arr
    if pa.types.is_null(arr.type):
        return pc.cast(arr, pa.bool_())
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return pc.not_equal(arr, 0)
    trues = {t.lower() for t in mapping.booleans.true}
    falses = {f.lower() for f in mapping.booleans.false}
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(arr, pa.string())))
    is_true = pc.is_in(text, pa.array(sorted(trues)))
    is_false = pc.is_in(text, pa.array(sorted(falses)))
    known = pc.or_(pc.or_(is_true, is_false), pc.or_(pc.is_null(text), pc.equal(text, "")))
    if not pc.all(pc.fill_null(known, True)).as_py():
        for i, v in enumerate(text.to_pylist()):
            if v and v not in trues and v not in falses:
                errors.add(
                    i,
                    f"column {name!r}: {v!r} is not a yes/no value (accepted: "
                    f"{', '.join(sorted(trues))} / {', '.join(sorted(falses))})",
                )
    return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))


def _to_date(arr: pa.Array, name: str, errors: _Errors) -> pa.Array:
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        return pc.cast(arr, pa.date32())
    out: list[dt.date | None] = []
    for i, v in enumerate(_strings(arr)):
        if not v:
            out.append(None)
            continue
        try:
            out.append(dt.date.fromisoformat(v[:10]))
        except ValueError:
            errors.add(i, f"column {name!r}: {v!r} is not a date (YYYY-MM-DD)")
            out.append(None)
    return pa.array(out, pa.date32())


def _to_string(arr: pa.Array, values: dict[str, str] | None) -> pa.Array:
    text = pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr
    text = pc.utf8_trim_whitespace(text)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if values:
        keys = pa.array(list(values))
        idx = pc.index_in(text, keys)
        mapped = pc.take(pa.array(list(values.values()), pa.string()), idx)
        text = pc.if_else(pc.is_null(idx), text, mapped)
    return text


def standardize(
    table: pa.Table | pa.RecordBatch,
    schema: ScreenSchema,
    mapping: Mapping,
    *,
    start_row: int,
    rows: pa.Array | None = None,
) -> pa.RecordBatch:
    """Rename, convert and complete one chunk to the screening table's schema."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    table = table.combine_chunks()
    n = table.num_rows
    errors = _Errors(n)
    if "_error" in table.column_names:
        errors.messages = list(table.column("_error").to_pylist())
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    present = set(table.column_names)
    for col in schema.columns:
        src = mapping.source_name(col.name)
        target = _PA_TYPES[col.type]
        if src not in present:
            arr: pa.Array = pa.nulls(n, target)
        else:
            raw = table.column(src)
            raw = (
                raw.chunk(0)
                if raw.num_chunks == 1
                else pa.concat_arrays(raw.chunks)
                if raw.num_chunks
                else pa.nulls(n, raw.type)
            )
            if col.type == "float64":
                arr = _to_float(raw, src, errors)
            elif col.type == "bool":
                arr = _to_bool(raw, src, errors, mapping)
            elif col.type == "date32":
                arr = _to_date(raw, src, errors)
            else:
                arr = _to_string(raw, mapping.values.get(col.name))
        if col.kind == "lab_unit" and col.ref in mapping.units:
            arr = pc.fill_null(arr, mapping.units[col.ref])
        arrays.append(arr)
        fields.append(pa.field(col.name, target))
    arrays.append(
        pc.cast(rows, pa.int64())
        if rows is not None
        else pa.array(range(start_row, start_row + n), pa.int64())
    )
    fields.append(pa.field("_row", pa.int64()))
    arrays.append(pa.array(errors.messages, pa.string()))
    fields.append(pa.field("_error", pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
