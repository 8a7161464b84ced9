"""``b12dx assess`` and ``b12dx explain``."""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..case import canonical_id
from ..errors import InputError, MissingExtraError, UnknownIdError
from ._common import echo_out, handles_errors

__all__ = ["Format", "build_case_data", "register", "render"]


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"
    fhir = "fhir"


_LAB = re.compile(r"^\s*([^=\s]+)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*)$")
_STATES = {
    "present": "present",
    "yes": "present",
    "true": "present",
    "absent": "absent",
    "no": "absent",
    "false": "absent",
    "unknown": "unknown",
    "?": "unknown",
}


def parse_lab(spec: str) -> dict[str, Any]:
    m = _LAB.match(spec)
    if not m:
        raise InputError(f"--lab {spec!r}: expected TEST=VALUE UNIT, e.g. 'b12_total=190 pg/mL'")
    return {"test": m.group(1), "value": float(m.group(2)), "unit": m.group(3).strip()}


def parse_finding(spec: str) -> dict[str, Any]:
    ident, _, state = spec.partition("=")
    if not state:
        return {"id": ident.strip(), "state": "present"}
    key = state.strip().lower()
    if key not in _STATES:
        raise InputError(f"--finding {spec!r}: state must be present, absent or unknown")
    return {"id": ident.strip(), "state": _STATES[key]}


def parse_med(spec: str) -> dict[str, Any]:
    name, _, years = spec.partition(":")
    out: dict[str, Any] = {"name": name.strip()}
    if years.strip():
        try:
            out["years"] = float(years)
        except ValueError:
            raise InputError(
                f"--med {spec!r}: years must be a number, e.g. 'metformin:6'"
            ) from None
    return out


def _read_case_file(path: str) -> dict[str, Any]:
    if path == "-":
        text = sys.stdin.read()
        name = "stdin.json" if text.lstrip().startswith("{") else "stdin.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"no such case file: {path}")
        text, name = p.read_text(encoding="utf-8"), p.name
    try:
        if name.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise InputError(f"{path} is not valid JSON or YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a case must be a JSON/YAML object")
    if data.get("resourceType") == "Bundle" or "resourceType" in data:
        from .. import fhir

        imported = fhir.case_from_fhir(data)
        for item in imported.ignored:  # reported, never silently dropped
            code = f" ({item.code})" if item.code else ""
            sys.stderr.write(f"note: not used: {item.resource}{code}: {item.reason}\n")
        return dict(imported.case.model_dump(by_alias=True, exclude_none=True))
    return data


def build_case_data(
    file: str | None,
    *,
    age: float | None = None,
    sex: str | None = None,
    pregnant: bool | None = None,
    findings: list[str] | None = None,
    labs: list[str] | None = None,
    meds: list[str] | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """A case as plain data from a file and/or command-line options."""
    data: dict[str, Any] = _read_case_file(file) if file else {}
    if text:
        try:
            from ..nlp import case_from_text
        except ModuleNotFoundError as exc:
            raise MissingExtraError("--text", "nlp", exc.name or "b12dx.nlp") from None
        data = case_from_text(text, base=data)
    if age is not None:
        data["age"] = age
    if sex is not None:
        data["sex"] = sex
    if pregnant is not None:
        data["pregnant"] = pregnant
    # an explicit --finding overrides what the file or the text said about the same id
    explicit = [parse_finding(f) for f in findings or []]
    given = {canonical_id(str(e["id"])) for e in explicit}
    kept = [
        e
        for e in data.get("evidence", [])
        if not (isinstance(e, dict) and canonical_id(str(e.get("id", ""))) in given)
    ]
    data["evidence"] = kept + explicit
    data["labs"] = list(data.get("labs", [])) + [parse_lab(x) for x in labs or []]
    data["medications"] = list(data.get("medications", [])) + [parse_med(m) for m in meds or []]
    if "age" not in data or "sex" not in data:
        raise InputError("a case needs age and sex: give a case FILE or --age and --sex")
    return data


def render(assessment: Any, fmt: Format, *, color: bool = False) -> str:
    if fmt is Format.json:
        return str(assessment.to_json())
    if fmt is Format.markdown:
        from ..render.markdown import render_markdown

        return render_markdown(assessment)
    if fmt is Format.html:
        from ..render.html import render_html

        return render_html(assessment)
    if fmt is Format.fhir:
        try:
            from ..render.fhir import to_bundle
        except ModuleNotFoundError as exc:
            raise MissingExtraError("--format fhir", "service", exc.name or "fhir") from None
        return json.dumps(to_bundle(assessment), indent=2)
    from ..render.text import render_text

    return render_text(assessment, color=color)


FileArg = Annotated[
    str | None,
    typer.Argument(help="Case file (JSON/YAML/FHIR), or - for stdin.", show_default=False),
]
KbOpt = Annotated[
    Path | None,
    typer.Option(
        "--kb", help="Use a knowledge-base folder instead of the bundled one.", show_default=False
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def assess(
        file: FileArg = None,
        fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
        age: Annotated[float | None, typer.Option(help="Age in years.")] = None,
        sex: Annotated[str | None, typer.Option(help="female or male.")] = None,
        pregnant: Annotated[bool | None, typer.Option("--pregnant/--not-pregnant")] = None,
        finding: Annotated[
            list[str] | None,
            typer.Option("--finding", help="ID or ID=present|absent|unknown (repeatable)."),
        ] = None,
        lab: Annotated[
            list[str] | None,
            typer.Option(
                "--lab", help="'TEST=VALUE UNIT', e.g. 'b12_total=190 pg/mL' (repeatable)."
            ),
        ] = None,
        med: Annotated[
            list[str] | None,
            typer.Option("--med", help="NAME[:years], e.g. metformin:6 (repeatable)."),
        ] = None,
        text: Annotated[
            str | None, typer.Option("--text", help="Free-text description (needs the nlp extra).")
        ] = None,
        text_file: Annotated[
            Path | None,
            typer.Option("--text-file", help="Read the free-text description from a file."),
        ] = None,
        output: Annotated[
            str | None, typer.Option("--output", "-o", help="Write to a file.")
        ] = None,
        kb: KbOpt = None,
    ) -> None:
        """Assess a case: triage, differential with explanations, labs, next steps, plan.

        Example: b12dx assess --age 67 --sex female --finding muscle_cramps
        --finding paresthesia_feet --lab 'b12_total=190 pg/mL' --med metformin:6
        """
        from ..assessment import assess as run
        from ..kb import load_kb

        if text_file is not None:
            try:
                text = text_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read {text_file}: {exc.strerror}") from None
        data = build_case_data(
            file,
            age=age,
            sex=sex,
            pregnant=pregnant,
            findings=finding,
            labs=lab,
            meds=med,
            text=text,
        )
        result = run(data, kb=load_kb(kb) if kb else None)
        color = output in (None, "-") and sys.stdout.isatty()
        echo_out(render(result, fmt, color=color), output)

    @app.command()
    @handles_errors
    def explain(
        file: Annotated[str, typer.Argument(help="Case file, or - for stdin.")],
        cause: Annotated[str, typer.Option("--cause", "-c", help="Cause id to explain.")],
        fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
        kb: KbOpt = None,
    ) -> None:
        """Explain one cause: each piece of evidence for and against it, in log-odds.

        Example: b12dx explain examples/b12_metformin.json --cause b12_deficiency
        """
        from ..assessment import assess as run
        from ..kb import load_kb

        knowledge = load_kb(kb) if kb else load_kb()
        result = run(build_case_data(file), kb=knowledge)
        found = next((c for c in result.differential if c.id == cause), None)
        if found is None:
            raise UnknownIdError(
                "cause",
                cause,
                [c.id for c in result.differential],
                where="--cause",
                listing="b12dx kb causes",
            )
        if fmt is Format.json:
            echo_out(found.model_dump_json(by_alias=True, indent=2), None)
            return
        lines = [f"{found.name}: probability {found.probability:.3f} (prior {found.prior:.3f})", ""]
        for title, items in (("For", found.for_), ("Against", found.against)):
            lines.append(f"{title}:")
            if not items:
                lines.append("  (nothing)")
            for c in items:
                lines.append(
                    f"  {c.log_odds:+.3f}  {c.label} ({c.state})  [{', '.join(c.sources)}]"
                )
            lines.append("")
        echo_out("\n".join(lines), None)
