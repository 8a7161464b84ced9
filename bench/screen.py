"""Screening benchmark: local engine vs a per-row assess() loop, a rules-only DuckDB query and
Spark local mode, on synthetic populations (``b12dx synth``).

    python bench/screen.py --rows 100000 1000000 --workdir /tmp/b12dx-bench [--spark]

For each N it prints rows per minute, CPU seconds, peak RSS (of the ``b12dx screen`` process
from ``wait4``, and of it plus its worker processes, sampled from /proc) and the ratios the
targets in docs/benchmarks.md refer to, plus the load average (the machine may be shared).
The per-row loop is timed on a sample (``--loop-sample`` rows) and extrapolated; everything
else runs on all rows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path


def _tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants (MiB), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _run(cmd: list[str]) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (user + system, workers included), peak RSS of the process
    (MiB, ``wait4``) and peak RSS of the process tree (MiB, sampled every 0.1 s)."""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], _tree_rss_mib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if status != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, max(peak[0], usage.ru_maxrss / 1024)


def _synth(n: int, path: Path) -> None:
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "b12dx", "synth", str(n), "-o", str(path), "--seed", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def _loop_rate(path: Path, sample: int) -> float:
    """Rows per second of ``assess()`` called row by row (what a naive batch job does)."""
    import pyarrow.parquet as pq

    from b12dx import assess
    from b12dx.errors import B12dxError
    from b12dx.kb import load_kb
    from b12dx.screen.kernel import row_case
    from b12dx.screen.schema import screen_schema

    kb = load_kb()
    schema = screen_schema(kb)
    rows = pq.ParquetFile(path).read_row_group(0).slice(0, sample).to_pylist()
    start = time.perf_counter()
    for row in rows:
        with contextlib.suppress(B12dxError):  # rejected rows cost what they cost
            assess(row_case(row, schema), kb=kb)
    return len(rows) / (time.perf_counter() - start)


def _duckdb_sql(columns: set[str]) -> str:
    """NG239 B12 bands and electrolyte thresholds, read from the KB (no posterior, no triage)."""
    from b12dx.kb import load_kb

    kb = load_kb()

    def case(test: str) -> str:
        t = kb.lab_by_id[test]
        factors = " ".join(
            f"WHEN lower({test}_unit) = '{u.unit.lower()}' THEN {u.value}" for u in t.units
        )
        value = f"({test} * CASE WHEN {test}_unit IS NULL THEN 1 {factors} END)"
        arms = []
        for b in t.bands:
            if b.sex != "any" or b.pregnant is not None:
                continue
            conds = []
            if b.lower is not None:
                conds.append(f"{value} {'>=' if b.lower_inclusive else '>'} {b.lower}")
            if b.upper is not None:
                conds.append(f"{value} {'<=' if b.upper_inclusive else '<'} {b.upper}")
            arms.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN '{b.id}'")
        return f"CASE {' '.join(arms)} END AS {test}_band"

    tests = [
        t
        for t in ("b12_total", "potassium", "magnesium", "calcium_total", "sodium")
        if t in kb.lab_by_id and t in columns
    ]
    return f"SELECT id, {', '.join(case(t) for t in tests)} FROM read_parquet('{{src}}')"


def _duckdb(path: Path, out: Path) -> float:
    import duckdb
    import pyarrow.parquet as pq

    sql = _duckdb_sql(set(pq.ParquetFile(path).schema_arrow.names)).format(src=path)
    con = duckdb.connect()
    start = time.perf_counter()
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/b12dx-bench"))
    ap.add_argument("--loop-sample", type=int, default=2_000)
    ap.add_argument("--workers", type=int, default=0, help="b12dx screen --workers (0: per core)")
    ap.add_argument("--spark", action="store_true", help="also time --engine spark")
    ap.add_argument("--spark-max-rows", type=int, default=1_000_000)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(
        "| rows | local s | rows/min | CPU s | peak RSS MiB (main / all processes) "
        "| per-row loop rows/s (local is x faster) | DuckDB rules-only s (local / DuckDB) "
        "| Spark local s (Spark / local) | load avg before / after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.rows:
        src = args.workdir / f"people-{n}.parquet"
        t0 = time.perf_counter()
        _synth(n, src)
        synth_s = time.perf_counter() - t0
        out = args.workdir / f"out-{n}.parquet"
        load_before = os.getloadavg()[0]
        local_s, cpu_s, rss, rss_all = _run(
            [
                sys.executable,
                "-m",
                "b12dx",
                "screen",
                str(src),
                "-o",
                str(out),
                "--no-progress",
                "--no-report",
                "--workers",
                str(args.workers),
            ]
        )
        load_after = os.getloadavg()[0]
        loop = _loop_rate(src, args.loop_sample)
        duck_s = _duckdb(src, args.workdir / f"duck-{n}.parquet")
        spark = "not run"
        if args.spark and n <= args.spark_max_rows:
            spark_s, *_ = _run(
                [
                    sys.executable,
                    "-m",
                    "b12dx",
                    "screen",
                    str(src),
                    "-o",
                    str(args.workdir / f"spark-{n}"),
                    "--engine",
                    "spark",
                ]
            )
            spark = f"{spark_s:.1f} ({spark_s / local_s:.2f}x)"
        rate = n / local_s
        print(
            f"| {n:,} | {local_s:.1f} | {rate * 60:,.0f} | {cpu_s:.1f} | {rss:,.0f} / "
            f"{rss_all:,.0f} | {loop:,.0f} ({rate / loop:,.0f}x) | {duck_s:.2f} "
            f"({local_s / duck_s:.1f}x) | {spark} | {load_before:.1f} / {load_after:.1f} |",
            flush=True,
        )
        print(f"<!-- synth {n:,} rows: {synth_s:.1f} s -->", flush=True)


if __name__ == "__main__":
    main()
