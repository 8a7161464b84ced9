"""``b12dx screen --engine spark``: the same kernel, applied with ``mapInArrow``.

The input Parquet is read by Spark; each Arrow batch is standardized and screened by the very
``Kernel`` the local engine uses, so the output is identical (compare sorted by ``row``). The row
number is Spark's ``_metadata.row_index`` of the Parquet file, which is the local engine's
``row`` (for a folder, plus the rows of the files before it in name order). A small single file
that Spark would give to fewer tasks than cores is, in local mode, rewritten into one file per
core, which Spark reads with one task each (see ``_spread``). Output and
rejects are written by Spark as Parquet folders (``OUTPUT`` and ``OUTPUT.rejects`` unless
``rejects`` is given).

On a cluster, install b12dx (``pip install 'b12dx[spark]'``) on the driver and the executors and
call ``screen_dataframe`` from your own job, or run ``b12dx screen --engine spark`` through
``spark-submit``; see ``docs/screening.md``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from ..errors import InputError, Issue, KnowledgeBaseError
from ..kb import KnowledgeBase, load_kb
from ..tuning import keep_heap_pages, one_blas_thread
from .kernel import Kernel
from .mapping import Mapping
from .reader import standardize
from .rules import load_rules
from .uri import is_uri

__all__ = ["SparkSummary", "run_spark", "screen_dataframe", "spark_schema"]

_REASON = "reason"


Spread = Literal["scan", "rewrite", "repartition"]


@dataclass
class SparkSummary:
    screened: int
    rejected: int
    output: Path | str  # a str when it is a URI (s3://..., hdfs://..., file://...)
    rejects: Path | str
    spread: Spread = "scan"
    """How the rows reached the cores (see ``_spread``)."""


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


def _quoted(name: str) -> str:
    """A column name as Spark SQL reads it literally (dots, spaces, backticks)."""
    return "`" + name.replace("`", "``") + "`"


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
    mapping = mapping or Mapping()
    # Only the columns the mapping reads go to the Python workers, as the local engine reads
    # only those (the scan then skips the others).
    wanted = {mapping.source_name(c) for c in kernel.schema.names} | {"_row", "_error"}
    keep = [c for c in df.columns if c in wanted]
    if len(keep) < len(df.columns):
        df = df.select(*[_quoted(c) for c in keep])
    fn = functools.partial(
        _screen_partition,
        kb_dir=kb_dir,
        rules_text=rules_text,
        sha256=kb.sha256,
        mapping_json=mapping.model_dump_json(),
        as_of=(as_of or dt.date.today()).isoformat(),
    )
    with warnings.catch_warnings():
        # mapInArrow checks the pandas version although the Arrow path never uses pandas
        warnings.filterwarnings(
            "ignore", "PySpark does not yet fully support pandas", FutureWarning
        )
        return df.mapInArrow(fn, spark_schema(kernel))


# Driver JVM options for a session this module starts (local mode) on a small input, where the
# run lasts seconds and start-up dominates: the client compiler only (C2's compile threads
# compete with the job for the cores and are not repaid; session ready 4.9-5.7 s instead of
# 9.1-9.7 s from process start at 100,000 rows), the serial collector (no GC threads per core)
# and JIT compilation of Spark's large generated methods (HotSpot leaves methods over 8,000
# bytecodes interpreted). On a larger input the JVM's defaults were as fast or faster (1 million
# rows, 20 MB: 66.9 s with the defaults, 69.0-78.2 s with the client compiler), so they are kept.
# Neither applies when the user sets driver Java options or the JVM already runs (spark-submit).
_QUICK_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-DontCompileHugeMethods"
_QUICK_JVM_MAX_BYTES = 8 << 20

# Rows per Arrow batch sent to a Python worker (the local engine's default chunk).
_BATCH_ROWS = 50_000
_NO_BYTE_LIMIT = 2**31 - 1

# A single local file that Spark's scan would give to fewer tasks than cores is rewritten into
# one file per core when it is at most this size (the rewrite streams batch by batch, but a row
# group is held whole; larger inputs are shuffled as before).
_REWRITE_MAX_BYTES = 256 << 20


# The families of jars a local screening run loads most of its classes from, in this order: the
# JVM looks a class up in every jar of the class path in turn, and Spark's launcher lists its
# ~280 jars in directory order, so without this a class of Spark SQL is looked for in about 140
# jars before it is found (measured at 100,000 rows: about a third of the JVM's sampled time
# went to those look-ups; these families hold 92% of the 15,000 classes loaded from jars).
_FIRST_JARS = (
    "spark-",
    "scala-",
    "parquet-",
    "arrow-",
    "janino-",
    "commons-compiler-",
    "log4j-",
    "jackson-",
    "hadoop-client-",
    "py4j-",
    "json4s-",
)


def _first_jars(submit_args: str) -> str:
    """A class path of Spark's own jars of the families in ``_FIRST_JARS``, to be put before
    Spark's jar folder on the class path of the driver JVM this process launches (the same
    jars, looked up in a better order); empty when the JVM is not ours to launch (it runs
    already, or ``spark-submit`` started this process) or the user sets the driver's class
    path in *submit_args* (``PYSPARK_SUBMIT_ARGS``)."""
    from pyspark import SparkContext
    from pyspark.find_spark_home import _find_spark_home

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return ""
    if "extraClassPath" in submit_args or "driver-class-path" in submit_args:
        return ""
    try:
        home = Path(_find_spark_home())
    except (SystemExit, OSError):  # pyspark exits when it finds no Spark home
        return ""
    return _ordered_jars(home, Path(os.environ.get("SPARK_CONF_DIR") or home / "conf"))


def _ordered_jars(home: Path, conf_dir: Path) -> str:
    """The jars of *home*'s ``jars`` folder in the families of ``_FIRST_JARS`` (families in
    that order, names sorted within one), as a class path; empty if *conf_dir*'s
    ``spark-defaults.conf`` sets the driver's class path itself."""
    try:
        defaults = (conf_dir / "spark-defaults.conf").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        defaults = ""
    if "spark.driver.extraClassPath" in defaults:
        return ""
    try:
        jars = sorted(p.name for p in (home / "jars").glob("*.jar"))
    except OSError:
        return ""
    ordered = [home / "jars" / j for family in _FIRST_JARS for j in jars if j.startswith(family)]
    return os.pathsep.join(str(p) for p in ordered)


def _session(master: str | None = None, *, input_bytes: int = 0) -> Any:
    """A Spark session (local mode unless ``spark-submit`` or *master* says otherwise), tuned
    for start-up when the input is small (*input_bytes*)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("b12dx-screen")
    if master is not None:
        builder = builder.master(master)
    submit_args = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    quick = input_bytes < _QUICK_JVM_MAX_BYTES
    if quick and "extraJavaOptions" not in submit_args and "driver-java-options" not in submit_args:
        builder = builder.config("spark.driver.extraJavaOptions", _QUICK_JVM_OPTIONS)
    first = _first_jars(submit_args)
    if first:
        builder = builder.config("spark.driver.extraClassPath", first)
    return (
        builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", str(_BATCH_ROWS))
        # Batches are cut by rows only: with a byte limit set (Spark's default is 64 MiB), the
        # JVM sums the buffer sizes of every column after every row it writes to Arrow (measured:
        # about a sixth of the CPU time of the scan tasks at 100,000 rows of 140 columns).
        # Int.MaxValue is Spark's own "no limit" value; the batch stays bounded by _BATCH_ROWS
        # rows of the columns the mapping reads (see screen_dataframe).
        .config("spark.sql.execution.arrow.maxBytesPerBatch", str(_NO_BYTE_LIMIT))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", os.environ["SPARK_LOCAL_IP"])
        .getOrCreate()
    )


def _parquet_files(input: Path) -> list[Path]:
    if not input.is_dir():
        return [input]
    return sorted(p for p in input.glob("*.parquet") if not p.name.startswith(("_", ".")))


def _file_offsets(files: list[Path]) -> Any:
    """A column expression: the number of rows in the files before this row's file (files in
    name order), so that row numbers run on across a folder's files like one table's."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    if len(files) == 1:
        return F.lit(0)
    offsets: list[Any] = []
    total = 0
    for f in files:
        try:
            n = pq.ParquetFile(f).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{f} is not a readable Parquet file: {exc}") from None
        offsets += [F.lit(f.name), F.lit(total)]
        total += n
    return F.create_map(*offsets)[F.col("_metadata.file_name")]


def _row_group_middles(path: Path) -> list[int] | None:
    """Byte offsets of the middles of a Parquet file's row groups (as parquet-mr computes them
    to give each row group to one split); ``None`` if the footer cannot be read here."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return None
    middles = []
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        if rg.num_columns == 0:
            continue
        first = rg.column(0)
        start = first.data_page_offset
        if first.has_dictionary_page and 0 < first.dictionary_page_offset < start:
            start = first.dictionary_page_offset
        size = sum(rg.column(j).total_compressed_size for j in range(rg.num_columns))
        middles.append(start + size // 2)
    return middles


def _scan_tasks(spark: Any, files: list[Path], enough: int) -> int:
    """How many of Spark's scan tasks get rows (counted up to *enough*).

    Spark cuts the files into byte ranges (``spark.sql.files.*``: at most
    ``maxPartitionBytes``, smaller for a small input so that each core gets one), packs them
    into tasks, and gives each row group to the range holding its middle. A small file or a
    file of one row group therefore makes one task that gets every row while the other cores
    wait. This replays Spark's split and packing (``FilePartition.getFilePartitions``) on the
    file sizes and reads the row-group offsets from the footers."""

    def conf_bytes(key: str, default: str) -> int:
        text = spark.conf.get(key, default)
        return int(spark._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(text))

    max_bytes = conf_bytes("spark.sql.files.maxPartitionBytes", "128m")
    open_cost = conf_bytes("spark.sql.files.openCostInBytes", "4m")
    min_parts = int(
        spark.conf.get("spark.sql.files.minPartitionNum", None)
        or spark.sparkContext.defaultParallelism
    )
    sizes = {p: p.stat().st_size for p in files}
    split = min(max_bytes, max(open_cost, sum(s + open_cost for s in sizes.values()) // min_parts))
    ranges = sorted(
        (
            (p, start, min(split, size - start))
            for p, size in sizes.items()
            for start in range(0, size, split)
        ),
        key=lambda r: -r[2],
    )
    tasks: list[list[tuple[Path, int, int]]] = [[]]
    filled = 0
    for r in ranges:
        if tasks[-1] and filled + r[2] > split:
            tasks.append([])
            filled = 0
        tasks[-1].append(r)
        filled += r[2] + open_cost
    middles: dict[Path, list[int] | None] = {}
    busy = 0
    for task in tasks:
        for path, start, length in task:
            if path not in middles:
                middles[path] = _row_group_middles(path)
            found = middles[path]
            if found is None or any(start <= m < start + length for m in found):
                busy += 1
                break
        if busy >= enough:
            break
    return busy


def _declared_schema(path: Path) -> Any:
    """The Spark schema of one Parquet file from its footer, so that Spark does not start a job
    to infer it; ``None`` (let Spark infer) unless every column has a plain type."""
    import pyarrow.parquet as pq
    from pyspark.sql import types as T

    plain = {
        pa.bool_(): T.BooleanType(),
        pa.int32(): T.IntegerType(),
        pa.int64(): T.LongType(),
        pa.float32(): T.FloatType(),
        pa.float64(): T.DoubleType(),
        pa.string(): T.StringType(),
        pa.large_string(): T.StringType(),
        pa.date32(): T.DateType(),
    }
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return None
    if any(f.type not in plain for f in schema) or len(set(schema.names)) != len(schema.names):
        return None
    return T.StructType([T.StructField(f.name, plain[f.type], nullable=True) for f in schema])


def run_spark(
    input: Path | str,
    output: Path | str,
    kb: KnowledgeBase,
    *,
    mapping: Path | None = None,
    rejects: Path | str | None = None,
    as_of: dt.date | None = None,
    kb_dir: str | None = None,
    rules: Path | None = None,
    spark: Any = None,
) -> SparkSummary:
    """Screen a Parquet file or folder with Spark; write Parquet folders for output/rejects.

    *input*, *output* and *rejects* are local paths or URIs that Spark's file systems read
    (``s3://``, ``hdfs://``, ``file://``...); with a URI anywhere, Spark reads and writes
    everything itself (``_run_uri``)."""
    from pyspark.sql import functions as F

    from .mapping import load_mapping
    from .schema import screen_schema

    if is_uri(input) or is_uri(output) or (rejects is not None and is_uri(rejects)):
        return _run_uri(
            str(input),
            str(output),
            kb,
            mapping=mapping,
            rejects=str(rejects) if rejects is not None else None,
            as_of=as_of,
            kb_dir=kb_dir,
            rules=rules,
            spark=spark,
        )
    input, output = Path(input), Path(output)
    rejects = Path(rejects) if rejects is not None else None
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
    files = _parquet_files(input)
    spark = spark or _session(input_bytes=sum(p.stat().st_size for p in files))
    rejects = rejects or output.with_name(output.name + ".rejects")
    declared = _declared_schema(input) if not input.is_dir() else None
    cores = int(spark.sparkContext.defaultParallelism)
    local = str(spark.sparkContext.master).startswith("local")
    spread = _spread(spark, input, files, cores, declared, local=local)
    rules_text = rules.read_text(encoding="utf-8") if rules is not None else None
    if output.parent.is_dir():
        from .spark_input import remove_stale

        remove_stale(output)  # a scratch folder left beside this output by a killed run
    scratch: Path | None = None
    try:
        if spread == "rewrite":
            scratch, parts = _rewrite(input, output, cores)
            if scratch is None:
                spread = "repartition"
            else:
                files = parts  # Spark reads the rewritten files: one task per core
        reader = spark.read
        if declared is not None:
            reader = reader.schema(declared)
        df = reader.parquet(*[str(f) for f in files])
        row = F.col("_metadata.row_index") + _file_offsets(files)
        df = df.select("*", row.alias("_row"))
        if spread == "repartition":
            # A shuffle costs less JVM time than one filtered scan per core (measured:
            # 6.9 vs 9.1 CPU seconds of Spark tasks at 100,000 rows).
            df = df.repartition(cores, "_row")
        result = screen_dataframe(
            df, kb, kb_dir=kb_dir, rules_text=rules_text, mapping=the_mapping, as_of=as_of
        )
        screened, rejected = _write(result, output, rejects)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return SparkSummary(
        screened=screened, rejected=rejected, output=output, rejects=rejects, spread=spread
    )


def _run_uri(
    input: str,
    output: str,
    kb: KnowledgeBase,
    *,
    mapping: Path | None,
    rejects: str | None,
    as_of: dt.date | None,
    kb_dir: str | None,
    rules: Path | None,
    spark: Any,
) -> SparkSummary:
    """``run_spark`` where Spark alone can reach the data: it reads the Parquet file or folder,
    numbers the rows (files in path order, as the local engine numbers a folder's files by
    name) and writes the output. The rows go to the cores as Spark's scan splits them
    (``scan``): nothing is rewritten or listed on the driver's disk."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from .mapping import load_mapping
    from .schema import screen_schema

    the_mapping = load_mapping(mapping, screen_schema(kb))
    spark = spark or _session()
    rejects = rejects or output.rstrip("/") + ".rejects"
    try:
        df = spark.read.parquet(input)
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"Spark cannot read {input} as Parquet: {first}") from None
    path = F.col("_metadata.file_path")
    counts = sorted(df.groupBy(path.alias("p")).count().collect(), key=lambda r: r["p"])
    offsets: list[Any] = []
    total = 0
    for r in counts:
        offsets += [F.lit(r["p"]), F.lit(total)]
        total += int(r["count"])
    first_row = F.create_map(*offsets)[path] if len(counts) > 1 else F.lit(0)
    df = df.select("*", (F.col("_metadata.row_index") + first_row).alias("_row"))
    rules_text = rules.read_text(encoding="utf-8") if rules is not None else None
    result = screen_dataframe(
        df, kb, kb_dir=kb_dir, rules_text=rules_text, mapping=the_mapping, as_of=as_of
    )
    screened, rejected = _write(result, output, rejects)
    return SparkSummary(
        screened=screened, rejected=rejected, output=output, rejects=rejects, spread="scan"
    )


def _spread(
    spark: Any, input: Path, files: list[Path], cores: int, declared: Any, *, local: bool
) -> Spread:
    """How the rows reach the cores: Spark's scan already gives every core rows (``scan``); a
    small single file is rewritten into one file per core, which Spark then reads with one task
    each (``rewrite``: the files are written by the driver, so only when the session is *local*,
    driver and executors sharing the disk, and only for a plain schema (*declared*), which
    pyarrow writes back unchanged); otherwise a hash shuffle on the row number
    (``repartition``)."""
    if _scan_tasks(spark, files, cores) >= cores:
        return "scan"
    if (
        local
        and not input.is_dir()
        and declared is not None
        and input.stat().st_size <= _REWRITE_MAX_BYTES
    ):
        return "rewrite"
    return "repartition"


def _rewrite(input: Path, output: Path, cores: int) -> tuple[Path | None, list[Path]]:
    """*input* rewritten into one file per core, rows in order, in a scratch folder beside
    *output* (measured at 100,000 rows, 2 MB: 0.3 s); ``(None, [])`` if that fails (then the
    caller shuffles)."""
    from .spark_input import rewrite_parts, work_dir

    scratch: Path | None = None
    try:
        scratch = work_dir(output)
        return scratch, list(rewrite_parts(input, scratch, cores))
    except BaseException as exc:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, (OSError, pa.ArrowException)):
            return None, []
        raise


def _write(result: Any, output: Path | str, rejects: Path | str) -> tuple[int, int]:
    """Write the screened rows of *result* to *output* and its rejects to *rejects*; (screened,
    rejected)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    counts = Observation("b12dx_screen_counts")
    result = result.persist()
    try:
        # The counts come with the first write (an observation), not from extra jobs.
        observed = result.observe(
            counts, F.count(F.lit(1)).alias("rows"), F.count(F.col(_REASON)).alias("rejected")
        )
        good = observed.filter(F.col(_REASON).isNull()).drop(_REASON)
        bad = result.filter(F.col(_REASON).isNotNull()).select("row", "id", _REASON)
        good.write.options(**_dictionary_options(good)).mode("overwrite").parquet(str(output))
        bad.write.options(**_dictionary_options(bad)).mode("overwrite").parquet(str(rejects))
        got = counts.get
    finally:
        result.unpersist()
    rejected = int(got["rejected"])
    return int(got["rows"]) - rejected, rejected


def _dictionary_options(df: Any) -> dict[str, str]:
    """Parquet writer options: dictionary encoding on the text columns only, as the local
    engine writes (``run._parquet_writer``). On the probabilities the dictionary rarely pays
    and costs the writer a hash lookup per value (measured: about a sixth of the CPU time of
    Spark's tasks at 100,000 rows)."""
    from pyspark.sql import types as T

    options = {"parquet.enable.dictionary": "false"}
    for f in df.schema.fields:
        if isinstance(f.dataType, T.StringType):
            options[f"parquet.enable.dictionary#{f.name}"] = "true"
    return options
