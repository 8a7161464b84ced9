"""Streaming, resumable screening runs on one machine.

The input is read in chunks of ``chunk_rows`` rows. Each chunk's output, rejects and summary
counts are written to ``<OUTPUT>.partial/`` as separate files, each made visible by an atomic
rename, and the counts file last: a chunk whose counts file exists is complete. ``--resume``
checks that the input and every setting are those of the interrupted run, skips the complete
chunks and computes the rest; because chunk boundaries depend only on the input and
``chunk_rows``, the merged output is the same, byte for byte, as an uninterrupted run's. The
final files are written under temporary names and renamed into place, and the partial folder is
removed last, so a run killed at any point can be resumed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..errors import InputError
from ..kb import KnowledgeBase
from ..tuning import keep_heap_pages, one_blas_thread
from .kernel import Kernel, ScreenResult
from .mapping import load_mapping
from .reader import iter_chunks, open_source
from .rules import ScreenRules, load_rules
from .stats import Stats

__all__ = ["RunConfig", "RunSummary", "output_format", "run_screen"]

OutputFormat = Literal["parquet", "csv"]


def output_format(path: Path) -> OutputFormat:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise InputError(f"cannot tell the output format of {path.name}: use .parquet or .csv")


@dataclass(frozen=True)
class RunConfig:
    input: Path
    output: Path
    rejects: Path | None = None  # default: <output stem>.rejects.csv
    report: Path | None = None  # default: <output stem>.report.html; None with no_report
    no_report: bool = False
    mapping: Path | None = None
    rules: Path | None = None  # screening flags file (default: the packaged screen.toml)
    chunk_rows: int = 50_000
    # processes screening chunks in parallel (the output is the same); 0: one per usable core
    workers: int = 1
    as_of: dt.date = field(default_factory=dt.date.today)
    resume: bool = False
    progress: bool = True

    @property
    def rejects_path(self) -> Path:
        return self.rejects or self.output.with_name(self.output.stem + ".rejects.csv")

    @property
    def report_path(self) -> Path | None:
        if self.no_report:
            return None
        return self.report or self.output.with_name(self.output.stem + ".report.html")

    @property
    def partial(self) -> Path:
        return self.output.with_name(self.output.name + ".partial")


@dataclass
class RunSummary:
    rows: int
    screened: int
    rejected: int
    chunks: int
    resumed_chunks: int
    seconds: float
    output: Path
    rejects: Path
    report: Path | None
    stats: Stats


def _digest(path: Path | None) -> str | None:
    if path is None:
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(cfg: RunConfig, kb: KnowledgeBase, kernel: Kernel) -> dict[str, Any]:
    st = cfg.input.stat()
    if cfg.input.is_dir():
        files = sorted(p for p in cfg.input.iterdir() if p.is_file())
        size = sum(p.stat().st_size for p in files)
        mtime = max((p.stat().st_mtime_ns for p in files), default=st.st_mtime_ns)
    else:
        size, mtime = st.st_size, st.st_mtime_ns
    return {
        "input": str(cfg.input.resolve()),
        "input_size": size,
        "input_mtime_ns": mtime,
        "chunk_rows": cfg.chunk_rows,
        "as_of": cfg.as_of.isoformat(),
        "kb_sha256": kb.sha256,
        "rules_sha256": kernel.rules.sha256,
        "mapping_sha256": _digest(cfg.mapping),
        "b12dx_version": __version__,
        "output_format": output_format(cfg.output),
    }


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    # the process id keeps two writers of the same file (a worker of a killed run that has not
    # died yet, and the resumed run) from writing into one temporary file
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


_PART_OPTIONS: Any = None


def _write_part(table: pa.Table, path: Path) -> None:
    """A chunk's part file: Arrow IPC with LZ4 (cheap to write and read back; the final file
    is compressed once, when the parts are merged)."""
    global _PART_OPTIONS
    if _PART_OPTIONS is None:
        _PART_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_file(sink, table.schema, options=_PART_OPTIONS) as writer,
    ):
        writer.write_table(table)


def _read_part(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    # dictionary encoding only where it pays (the text columns); not on the probabilities
    text = [f.name for f in schema if pa.types.is_string(f.type)]
    return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=text)


def _write_json(text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8")


def _prepare(cfg: RunConfig, manifest: dict[str, Any]) -> set[int]:
    """Create or check the partial folder; return the indexes of complete chunks."""
    part = cfg.partial
    mfile = part / "manifest.json"
    if part.exists() and cfg.resume and mfile.exists():
        old = json.loads(mfile.read_text())
        diff = [k for k in manifest if old.get(k) != manifest[k]]
        if diff:
            raise InputError(
                f"cannot resume: {', '.join(diff)} differ from the interrupted run in {part}; "
                "run without --resume to start over"
            )
        return {int(p.stem.split("-")[1]) for p in (part / "parts").glob("agg-*.json")}
    if part.exists():
        shutil.rmtree(part)
    (part / "parts").mkdir(parents=True)
    _atomic_write(mfile, functools.partial(_write_json, json.dumps(manifest, indent=1)))
    return set()


def _merge(cfg: RunConfig, kernel: Kernel, chunks: int) -> None:
    parts = cfg.partial / "parts"
    fmt = output_format(cfg.output)
    schema = kernel.output_schema()

    def write_output(tmp: Path) -> None:
        if fmt == "parquet":
            with _parquet_writer(tmp, schema) as w:
                for i in range(chunks):
                    w.write_table(_read_part(parts / f"out-{i:06d}.arrow"))
        else:
            import pyarrow.csv as pacsv

            with pacsv.CSVWriter(tmp, schema) as w:
                for i in range(chunks):
                    w.write_table(_read_part(parts / f"out-{i:06d}.arrow"))

    def write_rejects(tmp: Path) -> None:
        import pyarrow.csv as pacsv

        with pacsv.CSVWriter(tmp, Kernel.rejects_schema()) as w:
            for i in range(chunks):
                w.write_table(_read_part(parts / f"rej-{i:06d}.arrow"))

    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(cfg.output, write_output)
    _atomic_write(cfg.rejects_path, write_rejects)


def _save(parts: Path, index: int, result: ScreenResult) -> None:
    """Write one chunk's files; the counts file last, as the chunk's completion mark."""
    _atomic_write(parts / f"out-{index:06d}.arrow", functools.partial(_write_part, result.output))
    _atomic_write(parts / f"rej-{index:06d}.arrow", functools.partial(_write_part, result.rejects))
    _atomic_write(
        parts / f"agg-{index:06d}.json", functools.partial(_write_json, result.stats.to_json())
    )


_worker_kernel: Kernel | None = None


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the process that started it dies (a killed run
    leaves no worker behind to write parts while the run is resumed)."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _init_worker(kb: KnowledgeBase, rules: ScreenRules, parent: int) -> None:
    global _worker_kernel
    _die_with_parent()
    keep_heap_pages()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    _worker_kernel = Kernel(kb, rules)


def _work(batch: pa.RecordBatch, as_of: dt.date, parts: Path, index: int) -> None:
    """Screen one chunk in a worker and write its part files there (no result travels back)."""
    assert _worker_kernel is not None
    _save(parts, index, _worker_kernel.run(batch, as_of=as_of))


def _warm() -> None:
    """A no-op task: submitting one per worker starts the workers before the first chunk."""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pool(workers: int, kb: KnowledgeBase, rules: ScreenRules) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn": no fork of a process that may hold threads (Arrow's pools, Rich's refresher)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(kb, rules, os.getpid()),
    )


def run_screen(
    cfg: RunConfig, kb: KnowledgeBase, *, on_chunk: Callable[[int, int], None] | None = None
) -> RunSummary:
    """Screen ``cfg.input`` into ``cfg.output`` (see the module docstring)."""
    keep_heap_pages()
    with one_blas_thread():  # parallelism comes from processes (see tuning.py)
        return _run_screen(cfg, kb, on_chunk)


def _run_screen(
    cfg: RunConfig, kb: KnowledgeBase, on_chunk: Callable[[int, int], None] | None
) -> RunSummary:
    if cfg.chunk_rows < 1:
        raise InputError("--chunk-rows must be at least 1")
    if cfg.workers < 0:
        raise InputError("--workers must be 0 (one per core) or more")
    output_format(cfg.output)
    kernel = Kernel(kb, _rules(cfg.rules, kb))
    source = open_source(cfg.input)
    mapping = load_mapping(cfg.mapping, kernel.schema)
    manifest = _manifest(cfg, kb, kernel)
    done = _prepare(cfg, manifest)
    parts = cfg.partial / "parts"
    started = time.perf_counter()
    progress = _Progress(cfg.progress, source.total_rows)
    chunks = 0
    rows = 0
    workers = _workers(cfg, source.total_rows, len(done))
    pool = _pool(workers, kb, kernel.rules) if workers > 1 else None
    if pool is not None:  # start every worker now: their imports overlap reading chunk 0
        for _ in range(workers):
            pool.submit(_warm)
    pending: list[tuple[int, int, Any]] = []  # (index, rows, future) in submission order

    def finish(index: int, n: int, result: ScreenResult | None) -> None:
        if result is not None:
            _save(parts, index, result)
        progress.advance(n)
        if on_chunk is not None:
            on_chunk(index, n)

    try:
        for index, batch in iter_chunks(
            source, kernel.schema, mapping, chunk_rows=cfg.chunk_rows, as_of=cfg.as_of, kb=kb
        ):
            chunks = index + 1
            rows += batch.num_rows
            if index in done:
                progress.advance(batch.num_rows)
                continue
            if pool is None:
                finish(index, batch.num_rows, kernel.run(batch, as_of=cfg.as_of))
                continue
            # bounded look-ahead: at most two chunks per worker are in memory at once
            pending.append(
                (index, batch.num_rows, pool.submit(_work, batch, cfg.as_of, parts, index))
            )
            del batch
            while len(pending) >= 2 * workers:
                i, n, fut = pending.pop(0)
                fut.result()
                finish(i, n, None)
        for i, n, fut in pending:
            fut.result()
            finish(i, n, None)
    finally:
        progress.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    stats = Stats.empty(kernel)
    for i in range(chunks):
        stats = stats.merge(Stats.from_json((parts / f"agg-{i:06d}.json").read_text()))
    _merge(cfg, kernel, chunks)
    report = cfg.report_path
    seconds = time.perf_counter() - started
    if report is not None:
        from .report import write_report

        _atomic_write(
            report,
            lambda p: write_report(
                p, stats, kb=kb, kernel=kernel, params=_params(cfg, source.format)
            ),
        )
    shutil.rmtree(cfg.partial)
    return RunSummary(
        rows=rows,
        screened=stats.screened,
        rejected=stats.rejected,
        chunks=chunks,
        resumed_chunks=len(done & set(range(chunks))),
        seconds=seconds,
        output=cfg.output,
        rejects=cfg.rejects_path,
        report=report,
        stats=stats,
    )


def _workers(cfg: RunConfig, total_rows: int | None, done: int) -> int:
    """Processes to use: as asked, or (0) one per usable core; never more than there are
    chunks to compute, so a small input does not pay for starting workers."""
    wanted = cfg.workers or usable_cores()
    if total_rows is not None:
        todo = -(-total_rows // cfg.chunk_rows) - done
        wanted = min(wanted, max(todo, 1))
    return max(wanted, 1)


def _rules(path: Path | None, kb: KnowledgeBase) -> ScreenRules | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the rules file {path}: {exc.strerror}") from None
    return load_rules(kb, text)


def _params(cfg: RunConfig, fmt: str) -> dict[str, str]:
    return {
        "input": str(cfg.input),
        "input format": fmt,
        "output": str(cfg.output),
        "rejects": str(cfg.rejects_path),
        "mapping": str(cfg.mapping or "none"),
        "rules": str(cfg.rules or "packaged screen.toml"),
        "chunk rows": str(cfg.chunk_rows),
        "as of": cfg.as_of.isoformat(),
        "engine": "local",
        "b12dx": __version__,
    }


class _Progress:
    """A Rich progress bar: rows, rows per second and time left (when the total is known)."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self.progress: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("screening"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.progress.start()
        self.start = time.perf_counter()
        self.done = 0
        self.task = self.progress.add_task("screen", total=total, rate="-")

    def advance(self, n: int) -> None:
        if self.progress is None:
            return
        self.done += n
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        self.progress.update(self.task, advance=n, rate=f"{rate:,.0f}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
