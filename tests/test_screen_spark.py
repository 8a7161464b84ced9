"""``--engine spark``: a real local Spark session gives the local engine's output."""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true" and (
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None
):
    pytest.skip("needs pyspark and a Java runtime (required in CI)", allow_module_level=True)

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from b12dx.kb import KnowledgeBase
from b12dx.screen import spark as spark_module
from b12dx.screen.run import RunConfig, run_screen
from b12dx.screen.spark import run_spark
from b12dx.screen.spark_input import remove_stale, rewrite_parts, work_dir
from screen_support import assert_same_columns
from test_screen_kernel import MINI_RULES
from test_screen_run import AS_OF, MINI, population

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from b12dx.screen.spark import _session

    session = _session(master="local[2]")
    yield session
    session.stop()


# A small file goes to one task of Spark's scan, whatever its row groups: run_spark rewrites it
# into one file per core. With a split size under half the file, Spark's scan gives each core
# row groups itself (as for a large file).
@pytest.mark.parametrize(
    ("row_group_size", "split", "spread"),
    [(500, True, "scan"), (500, False, "rewrite"), (3_000, False, "rewrite")],
)
def test_spark_output_equals_local(
    spark: Any,
    mini_kb: KnowledgeBase,
    tmp_path: Path,
    row_group_size: int,
    split: bool,
    spread: str,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(MINI_RULES, encoding="utf-8")
    src = tmp_path / "in.parquet"
    pq.write_table(population(mini_kb, 3_000, seed=3), src, row_group_size=row_group_size)
    local = tmp_path / "local.parquet"
    run_screen(
        RunConfig(
            input=src,
            output=local,
            rules=rules,
            as_of=AS_OF,
            chunk_rows=700,
            progress=False,
            no_report=True,
        ),
        mini_kb,
    )
    out = tmp_path / "spark_out"
    mine, _ = _stale_scratch(out)  # one left by a killed run is removed, whichever the path
    mine.rmdir()
    key = "spark.sql.files.maxPartitionBytes"
    if split:
        spark.conf.set(key, str(src.stat().st_size // 2 + 1))
    try:
        summary = run_spark(
            src, out, mini_kb, as_of=AS_OF, rules=rules, kb_dir=str(MINI), spark=spark
        )
    finally:
        spark.conf.unset(key)
    want = pq.read_table(local).sort_by("row")
    got = pq.read_table(out).sort_by("row")
    assert got.schema.equals(want.schema)
    assert got.num_rows == want.num_rows == summary.screened
    # the small input is spread over the session's two cores, not screened by one task
    assert summary.spread == spread
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 2
    # each task screened consecutive rows, in order: the part files in name order are the
    # output in row order
    in_order = [r for f in parts for r in pq.read_table(f).column("row").to_pylist()]
    assert in_order == sorted(in_order)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # scratch removed
    assert_same_columns(got, want)
    rej_local = pacsv.read_csv(tmp_path / "local.rejects.csv").sort_by("row")
    rej_spark = pq.read_table(summary.rejects).sort_by("row")
    assert rej_spark.column("row").to_pylist() == rej_local.column("row").to_pylist()
    assert rej_spark.column("reason").to_pylist() == rej_local.column("reason").to_pylist()
    assert summary.rejected == rej_local.num_rows > 0


def test_spark_refuses_csv(spark: Any, mini_kb: KnowledgeBase, tmp_path: Path) -> None:
    from b12dx.errors import InputError

    src = tmp_path / "in.csv"
    src.write_text("age,sex\n50,female\n", encoding="utf-8")
    with pytest.raises(InputError, match="reads Parquet"):
        run_spark(src, tmp_path / "o", mini_kb, spark=spark, as_of=dt.date(2026, 1, 1))


def _whole_and_parts(
    kb: KnowledgeBase, tmp_path: Path, seed: int, cuts: list[int]
) -> tuple[Path, Path, Path]:
    """The screening rules, and 1,200 people as one Parquet file and as a folder of files cut
    at *cuts* (in name order)."""
    rules = tmp_path / "rules.toml"
    rules.write_text(MINI_RULES, encoding="utf-8")
    table = population(kb, 1_200, seed=seed)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    folder = tmp_path / "parts"
    folder.mkdir()
    bounds = [0, *cuts, table.num_rows]
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        pq.write_table(table.slice(start, stop - start), folder / f"part-{i}.parquet")
    return rules, whole, folder


def test_spark_folder_rows_run_on_across_files(
    spark: Any, mini_kb: KnowledgeBase, tmp_path: Path
) -> None:
    """A folder of Parquet files is screened like the one table they make in name order: row
    numbers run on from file to file instead of restarting."""
    rules, whole, folder = _whole_and_parts(mini_kb, tmp_path, 5, [500, 700])
    kw: dict[str, Any] = {"as_of": AS_OF, "rules": rules, "kb_dir": str(MINI), "spark": spark}
    one = run_spark(whole, tmp_path / "one", mini_kb, **kw)
    many = run_spark(folder, tmp_path / "many", mini_kb, **kw)
    want = pq.read_table(tmp_path / "one").sort_by("row")
    got = pq.read_table(tmp_path / "many").sort_by("row")
    assert got.column("row").to_pylist() == want.column("row").to_pylist()
    assert len(set(got.column("row").to_pylist())) == got.num_rows
    assert got.column("id").to_pylist() == want.column("id").to_pylist()
    assert many.rejected == one.rejected
    rej_one = pq.read_table(one.rejects).sort_by("row").column("row").to_pylist()
    rej_many = pq.read_table(many.rejects).sort_by("row").column("row").to_pylist()
    assert rej_many == rej_one


def _screened(out: Path, rejects: Path | str) -> tuple[pa.Table, pa.Table]:
    return pq.read_table(out).sort_by("row"), pq.read_table(str(rejects)).sort_by("row")


@pytest.mark.parametrize("why", ["large", "timestamp column", "not local"])
def test_spark_shuffles_what_it_does_not_rewrite(
    spark: Any,
    mini_kb: KnowledgeBase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    why: str,
) -> None:
    """A small one-row-group input that is over the rewrite limit, has a column type pyarrow
    might not write back as Spark read it, or belongs to a non-local session keeps the hash
    repartition, with the same output as the rewrite."""
    rules = tmp_path / "rules.toml"
    rules.write_text(MINI_RULES, encoding="utf-8")
    table = population(mini_kb, 2_000, seed=7)
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain)
    kw: dict[str, Any] = {"as_of": AS_OF, "rules": rules, "kb_dir": str(MINI), "spark": spark}
    rewritten = run_spark(plain, tmp_path / "a", mini_kb, **kw)
    assert rewritten.spread == "rewrite"
    if why == "not local":
        declared = spark_module._declared_schema(plain)
        assert declared is not None
        args = (spark, plain, [plain], 2, declared)
        assert spark_module._spread(*args, local=False) == "repartition"
        assert spark_module._spread(*args, local=True) == "rewrite"
        return
    src = plain
    if why == "large":
        monkeypatch.setattr(spark_module, "_REWRITE_MAX_BYTES", plain.stat().st_size - 1)
    else:
        src = tmp_path / "stamped.parquet"
        stamp = pa.array([dt.datetime(2026, 1, 1)] * table.num_rows, pa.timestamp("us"))
        pq.write_table(table.append_column("loaded_at", stamp), src)
    shuffled = run_spark(src, tmp_path / "b", mini_kb, **kw)
    assert shuffled.spread == "repartition"
    assert (shuffled.screened, shuffled.rejected) == (rewritten.screened, rewritten.rejected)
    want, want_rej = _screened(tmp_path / "a", rewritten.rejects)
    got, got_rej = _screened(tmp_path / "b", shuffled.rejects)
    assert got.equals(want)
    assert got_rej.equals(want_rej)


@pytest.mark.parametrize(("rows", "parts"), [(0, 2), (1, 2), (5, 2), (7, 3), (1_000, 4)])
def test_rewrite_parts_keeps_rows_in_order(tmp_path: Path, rows: int, parts: int) -> None:
    table = pa.table(
        {"id": [f"p{i}" for i in range(rows)], "x": pa.array(range(rows), pa.float64())}
    )
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    folder = tmp_path / "parts"
    folder.mkdir()
    files = rewrite_parts(src, folder, parts)
    assert files == sorted(files)
    assert len(files) == max(1, min(rows, parts))
    sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
    assert max(sizes) - min(sizes) <= 1
    back = pa.concat_tables(pq.read_table(f) for f in files)
    assert back.equals(pq.read_table(src))


def _stale_scratch(output: Path) -> tuple[Path, Path]:
    """A scratch folder beside *output* of this process and one of a process that is gone."""
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    mine = work_dir(output)
    stale = mine.with_name(mine.name.replace(f"-{os.getpid()}-", f"-{gone.pid}-"))
    stale.mkdir()
    (stale / "part-00000.parquet").write_bytes(b"")
    return mine, stale


def test_scratch_left_by_a_killed_run_is_removed(tmp_path: Path) -> None:
    output = tmp_path / "out"
    mine, stale = _stale_scratch(output)
    assert remove_stale(output) == [stale]
    assert mine.exists() and not stale.exists()  # this run's folder is kept


def test_spark_reads_and_writes_uris(spark: Any, mini_kb: KnowledgeBase, tmp_path: Path) -> None:
    """Input and output given as URIs (here ``file://``, read and written by Spark's own file
    system layer, as ``s3://`` or ``hdfs://`` would be): the same rows, numbered across a
    folder's files in order, as the local-path run gives."""
    rules, whole, folder = _whole_and_parts(mini_kb, tmp_path, 7, [450, 800])
    kw: dict[str, Any] = {"as_of": AS_OF, "rules": rules, "kb_dir": str(MINI), "spark": spark}
    one = run_spark(whole, tmp_path / "one", mini_kb, **kw)
    uri = run_spark(folder.as_uri(), (tmp_path / "uri").as_uri(), mini_kb, **kw)
    assert uri.output == (tmp_path / "uri").as_uri()
    assert uri.rejects == (tmp_path / "uri").as_uri() + ".rejects"
    assert (uri.screened, uri.rejected) == (one.screened, one.rejected)
    want, want_rej = _screened(tmp_path / "one", Path(one.rejects))
    got, got_rej = _screened(tmp_path / "uri", tmp_path / "uri.rejects")
    assert got.column_names == want.column_names
    assert_same_columns(got, want)
    assert got_rej.column("row").to_pylist() == want_rej.column("row").to_pylist()


def test_spark_uri_that_does_not_exist_is_an_input_error(
    spark: Any, mini_kb: KnowledgeBase, tmp_path: Path
) -> None:
    from b12dx.errors import InputError

    missing = (tmp_path / "nowhere.parquet").as_uri()
    with pytest.raises(InputError, match="Spark cannot read"):
        run_spark(missing, (tmp_path / "o").as_uri(), mini_kb, spark=spark, as_of=AS_OF)


@pytest.mark.parametrize(
    ("location", "uri"),
    [
        ("s3://bucket/people.parquet", True),
        ("hdfs://nn:8020/data", True),
        ("file:///tmp/x.parquet", True),
        ("/tmp/x.parquet", False),
        ("people.parquet", False),
        ("C:/data/x.parquet", False),
        (Path("s3://bucket/x"), False),
    ],
)
def test_what_counts_as_a_uri(location: Any, uri: bool) -> None:
    from b12dx.screen.uri import is_uri

    assert is_uri(location) is uri


def test_spark_sends_only_the_mapped_columns(
    spark: Any, mini_kb: KnowledgeBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Columns the mapping does not read (here a long text column and one whose name has a
    dot) are not read from the file nor sent to the Python workers, as the local engine does
    not read them; a renamed column still is. The output equals the plain input's."""
    from pyspark.sql import functions as F

    rules = tmp_path / "rules.toml"
    rules.write_text(MINI_RULES, encoding="utf-8")
    table = population(mini_kb, 1_500, seed=11)
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain)
    wide = table.rename_columns(["age_years" if n == "age" else n for n in table.column_names])
    wide = wide.append_column("notes", pa.array(["x" * 500] * wide.num_rows))
    wide = wide.append_column("lab.batch", pa.array([3.0] * wide.num_rows))
    src = tmp_path / "wide.parquet"
    pq.write_table(wide, src)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\nage = "age_years"\n', encoding="utf-8")
    kw: dict[str, Any] = {"as_of": AS_OF, "rules": rules, "kb_dir": str(MINI), "spark": spark}
    want_sum = run_spark(plain, tmp_path / "a", mini_kb, **kw)
    got_sum = run_spark(src, tmp_path / "b", mini_kb, mapping=mapping, **kw)
    want, want_rej = _screened(tmp_path / "a", want_sum.rejects)
    got, got_rej = _screened(tmp_path / "b", got_sum.rejects)
    assert got.equals(want)
    assert got_rej.equals(want_rej)

    from b12dx.screen.mapping import Mapping

    df = spark.read.parquet(str(src)).select("*", F.lit(0).cast("long").alias("_row"))
    screened = spark_module.screen_dataframe(
        df,
        mini_kb,
        kb_dir=str(MINI),
        rules_text=MINI_RULES,
        mapping=Mapping(columns={"age": "age_years"}),
        as_of=AS_OF,
    )
    screened.explain()
    plan = capsys.readouterr().out
    scan = next(line for line in plan.splitlines() if "ReadSchema" in line)
    assert "age_years" in scan
    assert "notes" not in scan and "lab.batch" not in scan


def test_spark_output_dictionary_encodes_text_only(
    spark: Any, mini_kb: KnowledgeBase, tmp_path: Path
) -> None:
    """As the local engine writes: dictionary encoding offered on the text columns only, not
    on the probabilities and the other numbers."""
    rules, whole, _ = _whole_and_parts(mini_kb, tmp_path, 13, [600])
    summary = run_spark(
        whole, tmp_path / "o", mini_kb, as_of=AS_OF, rules=rules, kb_dir=str(MINI), spark=spark
    )
    assert summary.rejected > 0
    for folder in (tmp_path / "o", Path(summary.rejects)):
        for part in folder.glob("part-*.parquet"):
            meta = pq.ParquetFile(part).metadata
            schema = pq.read_schema(part)
            for g in range(meta.num_row_groups):
                for i in range(meta.num_columns):
                    col = meta.row_group(g).column(i)
                    text = pa.types.is_string(schema.field(col.path_in_schema).type)
                    dictionary = any("DICTIONARY" in e for e in col.encodings)
                    # text: offered (the writer drops it where it does not pay, e.g. ids)
                    if col.path_in_schema in ("triage_level", "reason"):
                        assert dictionary, (part, col.path_in_schema)
                    if not text:
                        assert not dictionary, (part, col.path_in_schema)


def test_spark_session_cuts_arrow_batches_by_rows_only(spark: Any) -> None:
    """The session b12dx starts sends batches of _BATCH_ROWS rows without a byte limit
    (Int.MaxValue is Spark's own "no limit": no size check after every row)."""
    conf = spark.conf
    assert conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == str(spark_module._BATCH_ROWS)
    assert conf.get("spark.sql.execution.arrow.maxBytesPerBatch") == str(2**31 - 1)


_CLASS_PATH_PROBE = """
import json, os
from b12dx.screen.spark import _session
spark = _session(master="local[1]")
cp = spark.sparkContext._jvm.java.lang.System.getProperty("java.class.path")
print(json.dumps(cp.split(os.pathsep)))
spark.stop()
"""


def test_spark_jars_first_on_the_class_path_of_a_jvm_b12dx_launches() -> None:
    """The driver JVM that b12dx launches looks classes up in Spark's and Scala's jars first
    (then everything as before); one already running is left alone."""
    import json

    from pyspark.find_spark_home import _find_spark_home

    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_SUBMIT_ARGS"}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    done = subprocess.run(
        [sys.executable, "-c", _CLASS_PATH_PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    cp = json.loads(done.stdout.strip().splitlines()[-1])
    jars = Path(_find_spark_home()) / "jars"
    first = [Path(p).name for p in cp[:3]]
    assert all(name.startswith("spark-") and name.endswith(".jar") for name in first), cp[:3]
    assert any(Path(p).name.startswith("scala-library") for p in cp[:80])
    assert str(jars / "*") in cp or any(p.startswith(str(jars)) for p in cp[80:])
    # every jar put first is one of Spark's own
    for p in cp:
        if Path(p).parent == jars:
            assert (jars / Path(p).name).exists()


def test_spark_class_path_left_alone(spark: Any, tmp_path: Path) -> None:
    """No class path of b12dx's when the JVM runs already or the user sets one."""
    assert spark_module._first_jars("") == ""  # the test session's JVM runs
    home = tmp_path / "spark"
    (home / "jars").mkdir(parents=True)
    names = ["zstd-jni-1.jar", "scala-library-2.jar", "spark-sql_2.jar", "spark-core_2.jar"]
    for name in [*names, "parquet-column-1.jar", "arrow-vector-1.jar", "notes.txt"]:
        (home / "jars" / name).write_bytes(b"")
    conf = home / "conf"
    conf.mkdir()
    got = spark_module._ordered_jars(home, conf).split(os.pathsep)
    assert [Path(p).name for p in got] == [
        "spark-core_2.jar",
        "spark-sql_2.jar",
        "scala-library-2.jar",
        "parquet-column-1.jar",
        "arrow-vector-1.jar",
    ]
    (conf / "spark-defaults.conf").write_text(
        "spark.driver.extraClassPath /opt/mine.jar\n", encoding="utf-8"
    )
    assert spark_module._ordered_jars(home, conf) == ""
