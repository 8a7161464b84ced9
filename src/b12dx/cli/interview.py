"""``b12dx interview``: the adaptive questionnaire in the terminal.

Asks age, sex and the main complaint (unless a case file gives them), then one question at a
time: red-flag screening first, then the most informative question, until the stop rule says
enough. Answers: y(es), n(o), d(on't know), s(kip), q(uit). Ends with the assessment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import echo_out, handles_errors

__all__ = ["register"]

_ANSWERS = {
    "y": "present",
    "yes": "present",
    "n": "absent",
    "no": "absent",
    "d": "unknown",
    "?": "unknown",
    "dk": "unknown",
    "s": "skip",
    "skip": "skip",
    "q": "quit",
    "quit": "quit",
}
_STOP_TEXT = {
    "urgent": "Stopping: the answers point to a warning sign that needs urgent care.",
    "confident": "Stopping: the picture is clear enough.",
    "nothing_informative": "Stopping: no remaining question would change the picture much.",
    "max_questions": "Stopping: that was the last question.",
    "no_questions_left": "Stopping: there are no more questions.",
}


def _ask(prompt: str, choices: dict[str, str]) -> str:
    while True:
        raw = typer.prompt(prompt).strip().lower()
        if raw in choices:
            return choices[raw]
        typer.echo(
            "  Please answer " + ", ".join(sorted({k for k in choices if len(k) == 1})) + ".",
            err=True,
        )


def _start(kb: Any) -> dict[str, Any]:
    age = typer.prompt("Age in years", type=float)
    sex = _ask(
        "Sex (female/male)", {"f": "female", "female": "female", "m": "male", "male": "male"}
    )
    case: dict[str, Any] = {"age": age, "sex": sex, "evidence": []}
    if sex == "female":
        case["pregnant"] = (
            _ask("Are you pregnant? (y/n)", {"y": "yes", "yes": "yes", "n": "no", "no": "no"})
            == "yes"
        )
    complaints = [
        f for f in ("muscle_cramps", "muscle_tightness", "muscle_spasms") if f in kb.finding_by_id
    ]
    if complaints:
        typer.echo("What bothers you most?")
        for i, ident in enumerate(complaints, 1):
            typer.echo(f"  {i}) {kb.finding_by_id[ident].lay_name}")
        pick = _ask("Choose a number", {str(i): ident for i, ident in enumerate(complaints, 1)})
        case["evidence"].append({"id": pick, "state": "present", "initial": True})
    return case


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def interview(
        case_file: Annotated[
            Path | None,
            typer.Option(
                "--case",
                help="Start from this case file (JSON/YAML) instead of asking age and sex.",
            ),
        ] = None,
        max_questions: Annotated[
            int | None,
            typer.Option(
                min=1, max=200, help="Ask at most this many questions (after red-flag screening)."
            ),
        ] = None,
        save: Annotated[
            Path | None,
            typer.Option(help="Write the final case (b12dx/case/v1 JSON) to this file."),
        ] = None,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="Final output: text, json or markdown.")
        ] = "text",
        why: Annotated[
            bool, typer.Option("--why/--no-why", help="Show why each question is asked.")
        ] = True,
        kb_dir: Annotated[Path | None, typer.Option("--kb", help="Knowledge-base folder.")] = None,
    ) -> None:
        """Answer questions one at a time; get the likely causes and what to do next.

        Example: b12dx interview   (answer y, n, d for don't know, s to skip, q to stop)
        """
        from ..assessment import assess
        from ..case import load_case
        from ..interview import next_step
        from ..kb import load_kb

        kb = load_kb(kb_dir) if kb_dir else load_kb()
        if case_file is not None:
            case: dict[str, Any] = load_case(case_file).model_dump(by_alias=True, exclude_none=True)
        else:
            typer.echo(kb.meta.lay_disclaimer + "\n")
            case = _start(kb)
        answered: list[str] = []
        skipped: list[str] = []
        while True:
            step = next_step(
                case, answered=answered, skipped=skipped, kb=kb, max_questions=max_questions
            )
            if step.question is None:
                typer.echo("\n" + _STOP_TEXT.get(step.stop_reason or "", "Done."))
                break
            q = step.question
            typer.echo(f"\nQ{len(answered) + len(skipped) + 1}. {q.text}")
            if why:
                typer.echo(f"   (why: {q.rationale})")
            answer = _ask("   [y]es / [n]o / [d]on't know / [s]kip / [q]uit", _ANSWERS)
            if answer == "quit":
                typer.echo("\nStopped at your request.")
                break
            if answer == "skip":
                skipped.append(q.id)
                continue
            case.setdefault("evidence", []).append(
                {"id": q.id, "state": answer, "source": "interview"}
            )
            answered.append(q.id)
        if save is not None:
            save.write_text(json.dumps(case, indent=2) + "\n", encoding="utf-8")
        result = assess(case, kb=kb)
        if fmt == "json":
            echo_out(result.to_json(), None)
        elif fmt == "markdown":
            from ..render.markdown import render_markdown

            echo_out(render_markdown(result), None)
        else:
            from ..render.text import render_text

            echo_out(render_text(result), None)
