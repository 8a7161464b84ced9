"""``b12dx demo``: assess every bundled example and summarise."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from ._common import echo_out, handles_errors

__all__ = ["example_paths", "register"]


def example_paths() -> list[Path]:
    """The example cases: ``examples/`` in a source checkout, else the packaged copies."""
    here = Path(__file__).resolve().parents[3] / "examples"
    if here.is_dir():
        return sorted(here.glob("*.json"))
    packaged = resources.files("b12dx") / "examples"
    return sorted(Path(str(p)) for p in packaged.iterdir() if p.name.endswith(".json"))


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def demo(
        full: Annotated[bool, typer.Option("--full", help="Print every full report.")] = False,
    ) -> None:
        """Assess the bundled example cases and print a summary table (and one full report)."""
        from ..assessment import assess
        from ..render.common import pct
        from ..render.text import render_text

        paths = example_paths()
        if not paths:
            echo_out("no example cases found", None)
            raise SystemExit(1)
        rows = []
        first = None
        for p in paths:
            a = assess(json.loads(p.read_text(encoding="utf-8")))
            first = first or a
            top = a.differential[0]
            rows.append(f"{p.stem:<36} {a.triage.level:<20} {top.id:<30} {pct(top.probability):>5}")
            if full:
                echo_out(render_text(a), None)
        if first is not None and not full:
            echo_out(render_text(first), None)
        header = f"{'example':<36} {'triage':<20} {'top cause':<30} {'P':>5}"
        echo_out("\n".join([header, "-" * len(header), *rows]), None)
