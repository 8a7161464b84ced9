"""``b12dx screen`` (population screening) and ``b12dx synth`` (synthetic population)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import B12dxError, InputError, MissingExtraError

__all__ = ["register"]


class Engine(StrEnum):
    local = "local"
    spark = "spark"


def _need(module: str, extra: str, feature: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(feature, extra, module)


def _date(text: str | None) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


def screen(
    # str, not Path: with --engine spark these may be URIs (s3://...), which Path would mangle
    input: Annotated[
        str,
        typer.Argument(
            help="Parquet or CSV screening table, or a folder of FHIR Bulk Data .ndjson files "
            "(Spark: also a URI such as s3://bucket/people.parquet).",
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Output .parquet or .csv (Spark: a Parquet folder, or a URI).",
            show_default=False,
        ),
    ],
    engine: Annotated[Engine, typer.Option(help="local (one machine) or spark.")] = Engine.local,
    mapping: Annotated[
        Path | None,
        typer.Option(help="TOML file mapping your column names and codes to the screening table."),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Screening flags TOML (default: the packaged screen.toml).")
    ] = None,
    rejects: Annotated[
        str | None,
        typer.Option(help="Rejected rows with the reason (CSV; default <output>.rejects.csv)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Summary HTML report (default <output>.report.html).")
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the HTML report.")] = False,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk (bounds memory).")] = 50_000,
    workers: Annotated[
        int,
        typer.Option(help="Processes screening chunks in parallel (same output); 0: one per core."),
    ] = 0,
    as_of: Annotated[
        str | None,
        typer.Option(help="Index date for date-based flags (YYYY-MM-DD; default today)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run (same input and options).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    kb_dir: Annotated[
        Path | None, typer.Option("--kb", help="Knowledge base folder (default: the packaged KB).")
    ] = None,
) -> None:
    """Screen a population: triage, cause probabilities, next test and guideline flags per
    person.

    Example: b12dx synth 10000 -o people.parquet && b12dx screen people.parquet -o out.parquet
    """
    from . import fail

    try:
        _need("pyarrow", "screen", "b12dx screen")
        from ..kb import load_kb

        kb = load_kb(kb_dir)
        when = _date(as_of)
        if engine is Engine.spark:
            _need("pyspark", "spark", "b12dx screen --engine spark")
            from ..screen.spark import run_spark

            summary = run_spark(
                input,
                output,
                kb,
                mapping=mapping,
                rejects=rejects,
                as_of=when,
                rules=rules,
                kb_dir=str(kb_dir) if kb_dir else None,
            )
            typer.echo(
                f"screened {summary.screened:,} people, rejected {summary.rejected:,} -> {output}"
            )
            return
        from ..screen.run import RunConfig, run_screen
        from ..screen.uri import is_uri

        for name, where in (("input", input), ("--output", output), ("--rejects", rejects)):
            if where is not None and is_uri(where):
                raise InputError(
                    f"{name} {where!r} is a URI: only --engine spark reads or writes URIs"
                )
        cfg = RunConfig(
            input=Path(input),
            output=Path(output),
            rejects=Path(rejects) if rejects is not None else None,
            report=report,
            no_report=no_report,
            mapping=mapping,
            rules=rules,
            chunk_rows=chunk_rows,
            workers=workers,
            as_of=when,
            resume=resume,
            progress=progress,
        )
        result = run_screen(cfg, kb)
    except B12dxError as exc:
        fail(exc)
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    typer.echo(
        f"screened {result.screened:,} people, rejected {result.rejected:,} "
        f"({rate:,.0f} rows/s) -> {result.output}"
    )
    typer.echo(f"rejects: {result.rejects}")
    if result.report is not None:
        typer.echo(f"report: {result.report}")


def synth(
    n: Annotated[int, typer.Argument(help="Number of people.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .parquet or .csv.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same file).")] = 0,
    as_of: Annotated[
        str | None, typer.Option(help="Date the lab dates count back from (default: synth.toml's).")
    ] = None,
    kb_dir: Annotated[Path | None, typer.Option("--kb", help="Knowledge base folder.")] = None,
) -> None:
    """Write a seeded synthetic population drawn from the KB's priors and links.

    Example: b12dx synth 100000 -o people.parquet --seed 1
    """
    from . import fail

    try:
        _need("pyarrow", "screen", "b12dx synth")
        from ..kb import load_kb
        from ..screen.synth import write_synth

        rows = write_synth(
            n, output, load_kb(kb_dir), seed=seed, as_of=_date(as_of) if as_of else None
        )
    except B12dxError as exc:
        fail(exc)
    typer.echo(f"wrote {rows:,} synthetic people to {output}")


def register(app: typer.Typer) -> None:
    app.command("screen")(screen)
    app.command("synth")(synth)
