"""A small local Parquet file rewritten into one file per core, so that Spark's scan spreads it.

Spark gives a row group to one task and a file under ``spark.sql.files.openCostInBytes`` (4 MiB)
to one task, so a small input is screened by one Python worker while the other cores wait.
Rewriting it once with pyarrow into as many files as cores (same schema, same rows in the same
order, consecutive slices) lets the scan give each core a file: no shuffle. The files go in a
hidden folder beside the output, removed when the run ends; a folder left by a killed run is
removed by the next run that writes beside the same output on the same host.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

__all__ = ["remove_stale", "rewrite_parts", "work_dir"]

_MARK = ".spark-input-"


def _stem(output: Path) -> str:
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    return f".{output.name}{_MARK}{host}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(output: Path) -> list[Path]:
    """Remove the input folders beside *output* left by runs on this host whose process is gone;
    returns them."""
    stem = _stem(output)
    removed = []
    for old in output.parent.glob(stem + "*"):
        pid = old.name[len(stem) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def work_dir(output: Path) -> Path:
    """A new hidden folder beside *output* for this run's rewritten input."""
    output.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(output)
    return Path(tempfile.mkdtemp(prefix=f"{_stem(output)}{os.getpid()}-", dir=output.parent))


def rewrite_parts(source: Path, folder: Path, parts: int) -> list[Path]:
    """Write the rows of *source* to up to *parts* Parquet files in *folder* (returned in name
    order): consecutive slices whose sizes differ by at most one row, with *source*'s Arrow
    schema, streamed batch by batch."""
    src = pq.ParquetFile(source, pre_buffer=False)
    rows = src.metadata.num_rows
    n = max(1, min(parts, rows))
    ends = [rows * (i + 1) // n for i in range(n)]  # sizes differ by at most one row
    files = [folder / f"part-{i:05d}.parquet" for i in range(n)]
    writers = [pq.ParquetWriter(f, src.schema_arrow, compression="lz4") for f in files]
    try:
        i = done = 0
        for batch in src.iter_batches(batch_size=16_384):
            while batch.num_rows:
                while done == ends[i]:
                    i += 1
                take = min(batch.num_rows, ends[i] - done)
                writers[i].write_batch(batch.slice(0, take))
                done += take
                batch = batch.slice(take)
    finally:
        for w in writers:
            w.close()
        src.close()
    return files
