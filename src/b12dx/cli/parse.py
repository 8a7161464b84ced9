"""``b12dx parse TEXT`` and ``b12dx evaluate-nlp DIR``: free-text intake from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import B12dxError, InputError

__all__ = ["register"]

_FORMATS = ("table", "json")


def _read_text(text: str | None, file: Path | None) -> str:
    if file is not None:
        if text is not None:
            raise InputError("give the text either as an argument or with --file, not both")
        if str(file) == "-":
            return sys.stdin.read()
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
    if text is None:
        raise InputError(
            "give the text to parse as an argument, with --file PATH, or '-' for stdin"
        )
    return sys.stdin.read() if text == "-" else text


def parse_command(
    text: Annotated[
        str | None, typer.Argument(help="The description to read ('-' for stdin).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the text from a file.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Read a free-text description into evidence (with negation), medications, labs, age, sex."""
    from . import fail

    try:
        if fmt not in _FORMATS:
            raise InputError(f"unknown format {fmt!r}; accepted: {', '.join(_FORMATS)}")
        from ..nlp import parse_text

        result = parse_text(_read_text(text, file))
    except B12dxError as exc:
        fail(exc)
    if fmt == "json":
        typer.echo(json.dumps(result.model_dump(mode="json", exclude_none=True), indent=2))
        return
    _print_table(result)


def _print_table(result: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..nlp import ParseResult

    assert isinstance(result, ParseResult)
    console = Console(highlight=False)
    table = Table(title="Evidence", show_lines=False)
    for col in ("id", "state", "phrase", "span", "context", "via"):
        table.add_column(col, no_wrap=col in ("id", "state", "span", "via"))
    for m in result.evidence:
        flags = [
            k
            for k in ("negated", "historical", "family", "hypothetical", "uncertain")
            if getattr(m.context, k)
        ]
        mods = ", ".join(f"{x.phrase!r}" for x in m.context.modifiers)
        table.add_row(
            m.id,
            m.state,
            m.phrase,
            f"{m.span[0]}-{m.span[1]}",
            " ".join(flags) + (f" ({mods})" if mods else ""),
            m.via or "",
        )
    console.print(table)
    if result.medications:
        meds = Table(title="Medications")
        for col in ("name", "class", "years", "state", "phrase"):
            meds.add_column(col)
        for med in result.medications:
            meds.add_row(
                med.name or "",
                med.drug_class or "",
                "" if med.years is None else f"{med.years:g}",
                med.state,
                med.phrase,
            )
        console.print(meds)
    if result.labs:
        labs = Table(title="Labs")
        for col in ("test", "value", "unit", "phrase"):
            labs.add_column(col)
        for lab in result.labs:
            labs.add_row(lab.test, f"{lab.value:g}", lab.unit or "(no unit)", lab.phrase)
        console.print(labs)
    facts = [
        f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}"
        for k, v in (("age", result.age), ("sex", result.sex), ("pregnant", result.pregnant))
        if v is not None
    ]
    if facts:
        console.print("  ".join(facts))


def evaluate_nlp_command(
    directory: Annotated[
        Path, typer.Argument(help="Folder of annotated *.yaml descriptions.")
    ] = Path("tests/nlp_cases"),
    split: Annotated[str | None, typer.Option(help="Only the 'dev' or 'test' cases.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    errors: Annotated[bool, typer.Option("--errors", help="List every disagreement.")] = False,
) -> None:
    """Precision, recall and F1 of the text parser per finding and overall; negation accuracy."""
    from . import fail

    try:
        if fmt not in _FORMATS:
            raise InputError(f"unknown format {fmt!r}; accepted: {', '.join(_FORMATS)}")
        if split not in (None, "dev", "test"):
            raise InputError(f"unknown split {split!r}; accepted: dev, test")
        from ..nlp.evaluate import evaluate_cases, load_cases

        report = evaluate_cases(load_cases(directory), split=split)
    except B12dxError as exc:
        fail(exc)
    if fmt == "json":
        out = report.summary()
        out["per_id"] = {
            k: {
                "tp": s.tp,
                "fp": s.fp,
                "fn": s.fn,
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
                "f1": round(s.f1, 4),
            }
            for k, s in report.per_id.items()
        }
        if errors:
            out["errors"] = [e.model_dump() for e in report.errors]
        typer.echo(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"Free-text intake: {report.cases} descriptions")
    for col in ("finding", "tp", "fp", "fn", "precision", "recall", "F1"):
        table.add_column(col, justify="left" if col == "finding" else "right")
    for ident, s in report.per_id.items():
        table.add_row(
            ident,
            str(s.tp),
            str(s.fp),
            str(s.fn),
            f"{s.precision:.2f}",
            f"{s.recall:.2f}",
            f"{s.f1:.2f}",
        )
    o = report.overall
    table.add_row(
        "[bold]overall (micro)[/]",
        str(o.tp),
        str(o.fp),
        str(o.fn),
        f"{o.precision:.3f}",
        f"{o.recall:.3f}",
        f"{o.f1:.3f}",
    )
    console.print(table)
    console.print(
        f"negated mentions: {report.negated_gold}; read as absent: {report.negated_correct} "
        f"({report.negation_accuracy:.1%}); polarity errors: {report.negation_errors} "
        f"({report.negation_error_rate:.1%} of negated mentions)\n"
        f"medications F1 {report.medications.f1:.3f}; labs F1 {report.labs.f1:.3f}; "
        f"age {report.age_correct}/{report.age_total}; sex {report.sex_correct}/{report.sex_total}"
    )
    if errors:
        for e in report.errors:
            console.print(f"  {e.case}  {e.kind:9} {e.item}")


def register(app: typer.Typer) -> None:
    app.command("parse")(parse_command)
    app.command("evaluate-nlp")(evaluate_nlp_command)
