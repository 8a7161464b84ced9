"""``b12dx evaluate DIR``: score assess() against a folder of published vignettes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ._common import echo_out, handles_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    @handles_errors
    def evaluate_cmd(
        directory: Annotated[
            Path, typer.Argument(help="Folder of vignette files (YAML/JSON).", show_default=False)
        ],
        fmt: Annotated[
            Literal["markdown", "json"], typer.Option("--format", "-f", help="Output format.")
        ] = "markdown",
        output: Annotated[
            str | None,
            typer.Option(
                "--output",
                "-o",
                help="Write the report to this file ('-' = stdout).",
                show_default=False,
            ),
        ] = None,
        gate: Annotated[
            bool,
            typer.Option(
                "--gate",
                help="Exit 1 when a CI gate fails (top-3 below --min-top3, an "
                "expected-emergency case under-triaged, or a vignette not assessable).",
            ),
        ] = False,
        min_top3: Annotated[
            float,
            typer.Option("--min-top3", min=0.0, max=1.0, help="Top-3 accuracy the gate requires."),
        ] = 0.95,
        kb_path: Annotated[
            Path | None,
            typer.Option(
                "--kb",
                help="A knowledge-base folder (default: the bundled one).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Top-1/top-3 accuracy, triage agreement, under-triage, confusion and calibration."""
        from ..evaluate import evaluate, load_vignettes, render_markdown
        from ..kb import load_kb

        kb = load_kb(kb_path) if kb_path else load_kb()
        report = evaluate(load_vignettes(directory), kb=kb)
        text = (
            report.to_json(min_top3=min_top3)
            if fmt == "json"
            else render_markdown(report, min_top3=min_top3)
        )
        echo_out(text, output)
        verdict = report.gate(min_top3=min_top3)
        if gate and not verdict.passed:
            typer.echo("gate failed: " + "; ".join(verdict.reasons), err=True)
            raise typer.Exit(1)
