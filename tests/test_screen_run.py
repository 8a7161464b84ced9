"""Streaming screening runs: formats, mapping, rejects, report, and --resume after SIGKILL."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":  # in CI a missing extra must fail, not skip
    pytest.importorskip("pyarrow", reason="needs the 'screen' extra")
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from b12dx.errors import InputError
from b12dx.kb import KnowledgeBase
from b12dx.screen.kernel import Kernel
from b12dx.screen.mapping import Mapping
from b12dx.screen.reader import standardize
from b12dx.screen.rules import load_rules
from b12dx.screen.run import RunConfig, run_screen
from b12dx.screen.schema import screen_schema
from screen_support import assert_same_columns
from test_screen_kernel import MINI_RULES

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "mini_kb"
AS_OF = dt.date(2026, 6, 1)


def population(kb: KnowledgeBase, n: int, seed: int = 0) -> pa.Table:
    """Random screening rows for any KB (about 1% of them invalid)."""
    rng = np.random.default_rng(seed)
    schema = screen_schema(kb)
    cols: dict[str, pa.Array] = {
        "id": pa.array([f"p{i}" for i in range(n)]),
        "age": pa.array(
            np.where(rng.random(n) < 0.005, 12.0, rng.integers(16, 96, n).astype(float))
        ),
        "sex": pa.array(rng.choice(["female", "male"], n).tolist()),
    }
    for e in schema.evidence_ids:
        state = rng.random(n)
        cols[e] = pa.array(state < 0.15, mask=state > 0.3)
    for d in schema.drug_ids:
        taking = rng.random(n) < 0.2
        years = np.round(rng.uniform(0, 10, n), 1)
        cols[d] = pa.array(taking)
        cols[f"{d}_years"] = pa.array(years, mask=~taking)
    for t in schema.lab_ids:
        test = kb.lab_by_id[t]
        edges = [e for b in test.bands for e in (b.lower, b.upper) if e is not None] or [1.0]
        centre = float(np.median(edges))
        tested = rng.random(n) < 0.3
        cols[t] = pa.array(np.round(centre * rng.lognormal(0, 0.4, n), 2), mask=~tested)
        unit = np.where(rng.random(n) < 0.002, "furlongs", test.unit)
        cols[f"{t}_unit"] = pa.array(unit.tolist(), mask=~tested)
        days = rng.integers(0, 800, n)
        cols[f"{t}_date"] = pa.array(
            [AS_OF - dt.timedelta(days=int(x)) for x in days], pa.date32(), mask=~tested
        )
    return pa.table(cols)


@pytest.fixture()
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(MINI_RULES, encoding="utf-8")
    return path


def _direct(kb: KnowledgeBase, table: pa.Table) -> tuple[pa.Table, pa.Table]:
    kernel = Kernel(kb, load_rules(kb, MINI_RULES))
    res = kernel.run(standardize(table, kernel.schema, Mapping(), start_row=0), as_of=AS_OF)
    return res.output, res.rejects


@pytest.mark.parametrize(("chunk_rows", "workers"), [(1, 1), (37, 1), (10_000, 1), (53, 2)])
def test_parquet_run_equals_one_kernel_call(
    mini_kb: KnowledgeBase, tmp_path: Path, rules_file: Path, chunk_rows: int, workers: int
) -> None:
    table = population(mini_kb, 400, seed=1)
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.parquet"
    summary = run_screen(
        RunConfig(
            input=src,
            output=out,
            rules=rules_file,
            as_of=AS_OF,
            chunk_rows=chunk_rows,
            workers=workers,
            progress=False,
        ),
        mini_kb,
    )
    want_out, want_rej = _direct(mini_kb, table)
    got = pq.read_table(out)
    assert got.schema.equals(want_out.schema)
    assert_same_columns(got, want_out)
    rejects = pacsv.read_csv(summary.rejects)
    assert rejects.num_rows == want_rej.num_rows > 0
    assert rejects.column("reason").to_pylist() == want_rej.column("reason").to_pylist()
    assert summary.screened + summary.rejected == 400
    assert not (tmp_path / "out.parquet.partial").exists()
    html = summary.report.read_text() if summary.report else ""
    assert "<img" in html and mini_kb.version in html and "People by flag" in html


def test_csv_with_mapping_and_bad_cells(
    mini_kb: KnowledgeBase, tmp_path: Path, rules_file: Path
) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "PID,AGE_Y,GENDER,VEGAN,B12,B12_UNIT,FATIGUE\n"
        "a,54,F,Y,300,pmol/L,Y\n"
        "b,abc,M,N,,,\n"
        "c,61,M,maybe,,,N\n"
        "d,70,F,,150,,\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[columns]\nid = "PID"\nage = "AGE_Y"\nsex = "GENDER"\nvegan_diet = "VEGAN"\n'
        'b12_total = "B12"\nb12_total_unit = "B12_UNIT"\nfatigue = "FATIGUE"\n'
        '[values.sex]\nF = "female"\nM = "male"\n[units]\nb12_total = "ng/L"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    summary = run_screen(
        RunConfig(
            input=src,
            output=out,
            rules=rules_file,
            mapping=mapping,
            as_of=AS_OF,
            progress=False,
            no_report=True,
        ),
        mini_kb,
    )
    got = pacsv.read_csv(out).to_pylist()
    assert [r["id"] for r in got] == ["a", "d"]
    rej = pacsv.read_csv(summary.rejects).to_pylist()
    assert [r["id"] for r in rej] == ["b", "c"]
    assert "'abc' is not a number" in rej[0]["reason"]
    assert "'maybe' is not a yes/no value" in rej[1]["reason"]
    # the same people as a screening-table Parquet give the same answers
    same = pa.table(
        {
            "id": ["a", "d"],
            "age": [54.0, 70.0],
            "sex": ["female", "female"],
            "vegan_diet": [True, None],
            "fatigue": [True, None],
            "b12_total": [300.0, 150.0],
            "b12_total_unit": ["pmol/L", "ng/L"],
        }
    )
    want, _ = _direct(mini_kb, same)
    assert [r["p_b12_deficiency"] for r in got] == pytest.approx(
        want.column("p_b12_deficiency").to_pylist(), abs=1e-12
    )


def test_mapping_errors_say_what_is_accepted(
    mini_kb: KnowledgeBase, tmp_path: Path, rules_file: Path
) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(population(mini_kb, 5), src)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\nvegan_dite = "V"\n', encoding="utf-8")
    with pytest.raises(InputError, match="Did you mean 'vegan_diet'"):
        run_screen(
            RunConfig(
                input=src,
                output=tmp_path / "o.parquet",
                rules=rules_file,
                mapping=mapping,
                progress=False,
            ),
            mini_kb,
        )
    with pytest.raises(InputError, match="output format"):
        run_screen(
            RunConfig(input=src, output=tmp_path / "o.xlsx", rules=rules_file, progress=False),
            mini_kb,
        )


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "b12dx", "screen", *args]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_resume_after_sigkill_gives_identical_output(
    mini_kb: KnowledgeBase, tmp_path: Path, rules_file: Path, workers: str
) -> None:
    """Killed mid-run (with two workers: the parent is killed, its workers die with it),
    then resumed: the same bytes as an uninterrupted run, no duplicates, no gaps."""
    src = tmp_path / "in.parquet"
    pq.write_table(population(mini_kb, 60_000, seed=7), src, row_group_size=5_000)
    common = [
        "--workers",
        workers,
        "--kb",
        str(MINI),
        "--rules",
        str(rules_file),
        "--as-of",
        AS_OF.isoformat(),
        "--chunk-rows",
        "1500",
        "--no-progress",
    ]
    ref = tmp_path / "ref.parquet"
    # the reference is one process (the last --workers wins): workers change nothing
    subprocess.run(
        _cli(str(src), "-o", str(ref), *common, "--workers", "1"), check=True, capture_output=True
    )

    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.partial" / "parts"
    proc = subprocess.Popen(
        _cli(str(src), "-o", str(out), *common),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.exists() and len(list(parts.glob("agg-*.json"))) >= 3:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("agg-*.json")))
    assert not out.exists()
    assert 3 <= done_before < 40

    # resuming with different settings is refused, and nothing is lost
    bad = subprocess.run(
        _cli(
            str(src),
            "-o",
            str(out),
            *common[:-3],
            "--chunk-rows",
            "999",
            "--no-progress",
            "--resume",
        ),
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "chunk_rows" in bad.stderr
    assert len(list(parts.glob("agg-*.json"))) >= done_before

    res = subprocess.run(
        _cli(str(src), "-o", str(out), *common, "--resume"), capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == ref.read_bytes()
    assert (tmp_path / "out.rejects.csv").read_bytes() == (
        tmp_path / "ref.rejects.csv"
    ).read_bytes()
    table = pq.read_table(out)
    rows = table.column("row").to_pylist()
    assert rows == sorted(set(rows))  # no duplicates, in input order
    rej = pacsv.read_csv(tmp_path / "out.rejects.csv").column("row").to_pylist()
    assert sorted(rows + rej) == list(range(60_000))  # no gaps
    assert not (tmp_path / "out.parquet.partial").exists()


def _arrow_memory_held(kb: KnowledgeBase, src: Path) -> int:
    """Most Arrow memory held between chunks while reading ``src`` in chunks of 2,000 rows."""
    from b12dx.screen import reader

    held = 0
    source = reader.open_source(src)
    for _, batch in reader.iter_chunks(
        source, screen_schema(kb), Mapping(), chunk_rows=2_000, as_of=AS_OF
    ):
        del batch
        held = max(held, pa.total_allocated_bytes())
    return held


@pytest.mark.parametrize("pre_buffer", [False, True])
def test_reading_memory_does_not_grow_with_the_input(
    mini_kb: KnowledgeBase, tmp_path: Path, pre_buffer: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow memory held while reading 60,000 rows is that of reading 6,000. (pyarrow's
    pre-buffering kept the buffers of the row groups read so far, so a 10-million-row run held
    hundreds of MiB more; the True case shows this check detects that.)"""
    if pre_buffer:
        real = pq.ParquetFile
        monkeypatch.setattr(
            pq, "ParquetFile", lambda path, **kw: real(path, **{**kw, "pre_buffer": True})
        )
    held = {}
    for n in (6_000, 60_000):
        src = tmp_path / f"in-{n}.parquet"
        pq.write_table(population(mini_kb, n, seed=3), src, row_group_size=2_000)
        held[n] = _arrow_memory_held(mini_kb, src)
    grows = held[60_000] > held[6_000] + (256 << 10)
    assert grows is pre_buffer, held
