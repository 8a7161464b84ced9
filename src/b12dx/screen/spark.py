"""``b12dx screen --engine spark``: the same kernel, applied with ``mapInArrow``.

The input Parquet is read by Spark; each Arrow batch is standardized and screened by the very
``Kernel`` the local engine uses, so the output is identical (compare sorted by ``row``). The row
number is Spark's ``_metadata.row_index`` of the Parquet file, which is the local engine's
``row``. Output and rejects are written by Spark as Parquet folders (``OUTPUT`` and
``OUTPUT.rejects`` unless ``rejects`` is given).

On a cluster, install b12dx (``pip install 'b12dx[spark]'``) on the driver and the executors and
call ``screen_dataframe`` from your own job, or run ``b12dx screen --engine spark`` through
``spark-submit``; see ``docs/screening.md``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import InputError, Issue, KnowledgeBaseError
from ..kb import KnowledgeBase, load_kb
from .kernel import Kernel
from .mapping import Mapping
from .reader import standardize
from .rules import load_rules
from .tuning import keep_heap_pages, one_blas_thread

__all__ = ["SparkSummary", "run_spark", "screen_dataframe", "spark_schema"]

_REASON = "reason"


@dataclass
class SparkSummary:
    screened: int
    rejected: int
    output: Path
    rejects: Path


def _combined_schema(kernel: Kernel) -> pa.Schema:
    out = kernel.output_schema()
    return out.append(pa.field(_REASON, pa.string()))


@functools.lru_cache(maxsize=4)
def _kernel(kb_dir: str | None, rules_text: str | None, sha256: str) -> Kernel:
    kb = load_kb(kb_dir)
    if kb.sha256 != sha256:
        raise KnowledgeBaseError(
            [
                Issue(
                    "spark executor",
                    f"the knowledge base at {kb_dir or 'the packaged KB'} differs from the "
                    f"driver's (sha256 {kb.sha256[:12]} vs {sha256[:12]}): install the same "
                    "b12dx and KB on every node",
                )
            ]
        )
    return Kernel(kb, load_rules(kb, rules_text) if rules_text is not None else None)


def _screen_partition(
    batches: Iterator[pa.RecordBatch],
    *,
    kb_dir: str | None,
    rules_text: str | None,
    sha256: str,
    mapping_json: str,
    as_of: str,
) -> Iterator[pa.RecordBatch]:
    """Runs on the executors: standardize and screen each Arrow batch."""
    kernel = _kernel(kb_dir, rules_text, sha256)
    mapping = Mapping.model_validate_json(mapping_json)
    when = dt.date.fromisoformat(as_of)
    schema = _combined_schema(kernel)
    keep_heap_pages()
    with one_blas_thread():  # Spark runs one Python worker per core (see tuning.py)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            std = standardize(batch, kernel.schema, mapping, start_row=0, rows=batch.column("_row"))
            result = kernel.run(std, as_of=when)
            out = result.output.append_column(
                _REASON, pa.nulls(result.output.num_rows, pa.string())
            )
            rej = result.rejects
            cols = {
                name: rej.column(name)
                if name in ("row", "id", _REASON)
                else pa.nulls(rej.num_rows, schema.field(name).type)
                for name in schema.names
            }
            rej_full = pa.table(cols, schema=schema)
            for t in (out, rej_full):
                yield from t.to_batches()


def spark_schema(kernel: Kernel) -> Any:
    """The Spark ``StructType`` of the combined output (results plus ``reason``)."""
    # Built by hand: pyspark's from_arrow_schema goes through its pandas helpers.
    from pyspark.sql import types as T

    simple = {
        pa.int64(): T.LongType(),
        pa.string(): T.StringType(),
        pa.float64(): T.DoubleType(),
        pa.bool_(): T.BooleanType(),
    }
    return T.StructType(
        [T.StructField(f.name, simple[f.type], nullable=True) for f in _combined_schema(kernel)]
    )


def screen_dataframe(
    df: Any,
    kb: KnowledgeBase,
    *,
    kb_dir: str | None = None,
    rules_text: str | None = None,
    mapping: Mapping | None = None,
    as_of: dt.date | None = None,
) -> Any:
    """Screen a Spark DataFrame with a ``_row`` column; rejected rows have ``reason`` set.

    *kb_dir* is where executors load the KB from (``None``: the packaged KB); it must hold the
    same KB as *kb* (checked by content hash). *rules_text*: screening flags TOML (``None``:
    the packaged ``screen.toml``).
    """
    kernel = Kernel(kb, load_rules(kb, rules_text) if rules_text is not None else None)
    fn = functools.partial(
        _screen_partition,
        kb_dir=kb_dir,
        rules_text=rules_text,
        sha256=kb.sha256,
        mapping_json=(mapping or Mapping()).model_dump_json(),
        as_of=(as_of or dt.date.today()).isoformat(),
    )
    with warnings.catch_warnings():
        # mapInArrow checks the pandas version although the Arrow path never uses pandas
        warnings.filterwarnings(
            "ignore", "PySpark does not yet fully support pandas", FutureWarning
        )
        return df.mapInArrow(fn, spark_schema(kernel))


def _session(master: str | None = None) -> Any:
    """A Spark session (local mode unless ``spark-submit`` or *master* says otherwise)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("b12dx-screen")
    if master is not None:
        builder = builder.master(master)
    return (
        builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", "50000")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", os.environ["SPARK_LOCAL_IP"])
        .getOrCreate()
    )


def run_spark(
    input: Path,
    output: Path,
    kb: KnowledgeBase,
    *,
    mapping: Path | None = None,
    rejects: Path | None = None,
    as_of: dt.date | None = None,
    kb_dir: str | None = None,
    rules: Path | None = None,
    spark: Any = None,
) -> SparkSummary:
    """Screen a Parquet file or folder with Spark; write Parquet folders for output/rejects."""
    from pyspark.sql import functions as F

    from .mapping import load_mapping
    from .schema import screen_schema

    if (input.is_dir() and not any(input.glob("*.parquet"))) or (
        not input.is_dir() and input.suffix.lower() not in (".parquet", ".pq")
    ):
        raise InputError(
            "--engine spark reads Parquet (a file or a folder of .parquet "
            "files); convert CSV or FHIR NDJSON with the local engine first"
        )
    if not input.exists():
        raise InputError(f"input {input} does not exist")
    the_mapping = load_mapping(mapping, screen_schema(kb))
    spark = spark or _session()
    df = spark.read.parquet(str(input))
    df = df.select("*", F.col("_metadata.row_index").alias("_row"))
    rules_text = rules.read_text(encoding="utf-8") if rules is not None else None
    result = screen_dataframe(
        df, kb, kb_dir=kb_dir, rules_text=rules_text, mapping=the_mapping, as_of=as_of
    )
    result = result.persist()
    try:
        good = result.filter(F.col(_REASON).isNull()).drop(_REASON)
        bad = result.filter(F.col(_REASON).isNotNull()).select("row", "id", _REASON)
        rejects = rejects or output.with_name(output.name + ".rejects")
        good.write.mode("overwrite").parquet(str(output))
        bad.write.mode("overwrite").parquet(str(rejects))
        screened = good.count()
        rejected = bad.count()
    finally:
        result.unpersist()
    return SparkSummary(screened=screened, rejected=rejected, output=output, rejects=rejects)
