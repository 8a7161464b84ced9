"""``b12dx kb``: validate and browse the knowledge base."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import KnowledgeBaseError, UnknownIdError
from ._common import echo_out, handles_errors

__all__ = ["register"]

KbOpt = Annotated[
    Path | None, typer.Option("--kb", help="A knowledge-base folder.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _table(rows: Sequence[Sequence[str]], header: tuple[str, ...], as_json: bool) -> str:
    if as_json:
        return json.dumps(
            [dict(zip(header, r, strict=True)) for r in rows], indent=2, ensure_ascii=False
        )
    from rich.console import Console
    from rich.table import Table

    table = Table(*header)
    for r in rows:
        table.add_row(*r)
    import io

    console = Console(width=140, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def register(app: typer.Typer) -> None:
    kb_app = typer.Typer(help="Validate and browse the knowledge base.", no_args_is_help=True)
    app.add_typer(kb_app, name="kb")

    def load(path: Path | None) -> Any:
        from ..kb import load_kb

        return load_kb(path) if path else load_kb()

    @kb_app.command("validate")
    def validate(kb: KbOpt = None) -> None:
        """Check the KB: schema, cross-references, sources, ranges. Exit 1 listing every problem."""
        from ..kb import load_kb

        try:
            knowledge = load_kb(kb, fresh=True)
        except KnowledgeBaseError as exc:
            echo_out(str(exc), None)
            raise SystemExit(1) from None
        n_numbers = sum(1 for _ in _numbers(knowledge))
        echo_out(
            f"ok: knowledge base {knowledge.version} (sha256 {knowledge.sha256[:12]}): "
            f"{len(knowledge.causes)} causes, {len(knowledge.findings)} findings, "
            f"{len(knowledge.risk_factors)} risk factors, {len(knowledge.drug_classes)} "
            f"drug classes, {len(knowledge.labs)} lab tests, {len(knowledge.links)} links, "
            f"{n_numbers} sourced numbers, {len(knowledge.sources)} sources",
            None,
        )

    @kb_app.command("findings")
    @handles_errors
    def findings(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
        """List every evidence id a case may use: findings and risk factors."""
        k = load(kb)
        rows = [
            (f.id, f.kind, f.name, ", ".join(f.synonyms[:4]), f.codes.snomed or "")
            for f in k.findings
            if f.kind != "lab"
        ]
        rows += [
            (r.id, f"risk:{r.category}", r.name, ", ".join(r.synonyms[:4]), r.codes.snomed or "")
            for r in k.risk_factors
        ]
        echo_out(_table(rows, ("id", "kind", "name", "synonyms", "snomed"), as_json), None)

    @kb_app.command("causes")
    @handles_errors
    def causes(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
        """List the causes in the differential."""
        k = load(kb)
        rows = [
            (c.id, c.group, c.name, c.codes.snomed or "", c.codes.icd10 or "") for c in k.causes
        ]
        echo_out(_table(rows, ("id", "group", "name", "snomed", "icd10"), as_json), None)

    @kb_app.command("labs")
    @handles_errors
    def labs(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
        """List lab tests with LOINC codes and accepted units."""
        k = load(kb)
        rows = [
            (t.id, t.name, ", ".join(t.loinc), t.unit, ", ".join(u.unit for u in t.units))
            for t in k.labs
        ]
        echo_out(_table(rows, ("id", "name", "loinc", "unit", "accepted units"), as_json), None)

    @kb_app.command("medications")
    @handles_errors
    def medications(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
        """List drug classes with their drugs, brands and RxNorm codes."""
        k = load(kb)
        rows = [
            (
                d.id,
                d.name,
                ", ".join(
                    f"{x.name}{f' ({x.rxnorm})' if x.rxnorm else ''}"
                    + "".join(f" [also {a}]" for a in x.also)
                    for x in d.drugs
                ),
                ", ".join(b for x in d.drugs for b in x.brands),
            )
            for d in k.drug_classes
        ]
        echo_out(_table(rows, ("id", "name", "drugs (rxnorm)", "brands"), as_json), None)

    @kb_app.command("sources")
    @handles_errors
    def sources(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
        """List the sources every number cites."""
        k = load(kb)
        rows = [
            (s.id, s.kind, f"{s.title} ({s.body}{f', {s.year}' if s.year else ''})", s.url)
            for s in k.sources
        ]
        echo_out(_table(rows, ("id", "kind", "title", "url"), as_json), None)

    @kb_app.command("show")
    @handles_errors
    def show(
        ident: Annotated[
            str,
            typer.Argument(
                help="Any id: cause, finding, risk factor, drug class, lab test or source."
            ),
        ],
        kb: KbOpt = None,
    ) -> None:
        """Show one KB entry as JSON, with the links and effects that involve it."""
        k = load(kb)
        tables: list[dict[str, Any]] = [
            k.cause_by_id,
            k.finding_by_id,
            k.risk_factor_by_id,
            k.drug_class_by_id,
            k.lab_by_id,
            k.source_by_id,
        ]
        for table in tables:
            if ident in table:
                out = table[ident].model_dump(exclude_none=True)
                related = [lk.model_dump() for lk in k.links if ident in (lk.cause, lk.finding)]
                if related:
                    out["links"] = related
                echo_out(json.dumps(out, indent=2, ensure_ascii=False), None)
                return
        every = [i for t in tables for i in t]
        raise UnknownIdError("knowledge-base id", ident, every, listing="b12dx kb findings")


def _numbers(kb: Any) -> Any:
    from ..kb import Num
    from ..kb_checks import provenance_items

    for _, item in provenance_items(kb):
        if isinstance(item, Num):
            yield item
