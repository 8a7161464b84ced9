"""``--engine spark``: a real local Spark session gives the local engine's output."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true" and (
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None
):
    pytest.skip("needs pyspark and a Java runtime (required in CI)", allow_module_level=True)

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from b12dx.kb import KnowledgeBase
from b12dx.screen.run import RunConfig, run_screen
from b12dx.screen.spark import run_spark
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


# 500: six row groups, split by Spark's scan; 3,000: one row group, spread over the cores by
# run_spark (a hash repartition on the row number).
@pytest.mark.parametrize("row_group_size", [500, 3_000])
def test_spark_output_equals_local(
    spark: Any, mini_kb: KnowledgeBase, tmp_path: Path, row_group_size: int
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
    summary = run_spark(src, out, mini_kb, as_of=AS_OF, rules=rules, kb_dir=str(MINI), spark=spark)
    want = pq.read_table(local).sort_by("row")
    got = pq.read_table(out).sort_by("row")
    assert got.schema.equals(want.schema)
    assert got.num_rows == want.num_rows == summary.screened
    # the small input is spread over the session's two cores, not screened by one task
    assert len(list(out.glob("part-*.parquet"))) == 2
    for name in want.column_names:
        a, b = got.column(name).to_pylist(), want.column(name).to_pylist()
        if name.startswith("p_"):
            assert a == pytest.approx(b, abs=1e-12), name
        else:
            assert a == b, name
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


def test_spark_folder_rows_run_on_across_files(
    spark: Any, mini_kb: KnowledgeBase, tmp_path: Path
) -> None:
    """A folder of Parquet files is screened like the one table they make in name order: row
    numbers run on from file to file instead of restarting."""
    rules = tmp_path / "rules.toml"
    rules.write_text(MINI_RULES, encoding="utf-8")
    table = population(mini_kb, 1_200, seed=5)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, (start, stop) in enumerate([(0, 500), (500, 700), (700, 1_200)]):
        pq.write_table(table.slice(start, stop - start), folder / f"part-{i}.parquet")
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
