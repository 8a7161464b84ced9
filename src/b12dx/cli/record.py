"""``b12dx record``: keep a longitudinal record and follow treatment response.

Records go to the database named by ``--db`` or ``$B12DX_DATABASE_URL`` (default: a SQLite file
in the user's data directory). A person is created on the first record written for them.

    b12dx record add-lab p1 --test b12_total --value 150 --unit ng/L --date 2026-01-05
    b12dx record start-treatment p1 --date 2026-01-06 --route intramuscular \\
        --product hydroxocobalamin --dose "1 mg" --frequency "3 times a week for 2 weeks"
    b12dx record add-symptoms p1 --date 2026-03-01 --cramps 2 --severity 3
    b12dx record review p1
    b12dx record plot p1 -o p1.svg
    b12dx record export -o all.jsonl ; b12dx record import all.jsonl
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import B12dxError, InputError

if TYPE_CHECKING:
    from ..monitor import ReviewResult
    from ..store.records import Timeline
    from ..store.repo import Store

__all__ = ["register"]

record_app = typer.Typer(
    name="record",
    help="Longitudinal records: labs, symptom diary, treatments; response review and plots.",
    no_args_is_help=True,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="B12DX_DATABASE_URL",
        show_envvar=True,
        help="Database URL (sqlite:///PATH or postgresql://...) or a SQLite file path.",
    ),
]
PersonArg = Annotated[str, typer.Argument(help="The person's reference (your own key).")]
DateOption = Annotated[str, typer.Option("--date", help="Date, YYYY-MM-DD (default: today).")]


def register(app: typer.Typer) -> None:
    app.add_typer(record_app, name="record")


@contextmanager
def _errors() -> Iterator[None]:
    from . import fail

    try:
        yield
    except B12dxError as exc:
        fail(exc)
    except ValueError as exc:  # pydantic validation of option values
        fail(InputError(_pydantic_message(exc)))


def _pydantic_message(exc: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _date(value: str | None, what: str = "--date") -> dt.date:
    if not value or value == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{value!r} is not a date; use YYYY-MM-DD", where=what) from None


def _store(db: str | None) -> Store:
    from ..store import open_store

    return open_store(db)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


# -- people ----------------------------------------------------------------------------------


@record_app.command("person")
def person_cmd(
    person: PersonArg,
    sex: Annotated[str | None, typer.Option(help="female or male")] = None,
    pregnant: Annotated[bool | None, typer.Option("--pregnant/--not-pregnant")] = None,
    breastfeeding: Annotated[
        bool | None, typer.Option("--breastfeeding/--not-breastfeeding")
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option(help="A risk factor or condition id (repeatable), e.g. autoimmune_gastritis."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a person or change their details (sex, pregnancy, conditions)."""
    with _errors(), _store(db) as store:
        store.ensure_person(person)
        changes: dict[str, Any] = {}
        if sex is not None:
            changes["sex"] = sex.strip().lower()
        if pregnant is not None:
            changes["pregnant"] = pregnant
        if breastfeeding is not None:
            changes["breastfeeding"] = breastfeeding
        if condition:
            changes["conditions"] = condition
        p = store.update_person(person, changes) if changes else store.get_person(person)
        typer.echo(p.model_dump_json(indent=2))


@record_app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """List the people in the records."""
    with _errors(), _store(db) as store:
        for p in store.list_people():
            typer.echo(p.ref)


# -- writing ---------------------------------------------------------------------------------


@record_app.command("add-lab")
def add_lab(
    person: PersonArg,
    test: Annotated[str, typer.Option(help="KB test id, e.g. b12_total, mma, haemoglobin.")],
    value: Annotated[float, typer.Option(help="The result.")],
    unit: Annotated[str, typer.Option(help="Its unit, e.g. ng/L, pmol/L, g/L.")],
    date: DateOption = "today",
    note: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
) -> None:
    """Record a laboratory result."""
    from ..store.records import LabIn

    with _errors(), _store(db) as store:
        lab = store.add_lab(
            person,
            LabIn(test=test, value=value, unit=unit, date=_date(date), note=note),
            create=True,
        )
        typer.echo(f"recorded {lab.test} {lab.value:g} {lab.unit} on {lab.date} ({lab.uid})")


@record_app.command("add-symptoms")
def add_symptoms(
    person: PersonArg,
    date: DateOption = "today",
    cramps: Annotated[int | None, typer.Option(help="Cramp episodes in the past week.")] = None,
    severity: Annotated[int | None, typer.Option(help="Worst cramp, 0-10.")] = None,
    tightness: Annotated[int | None, typer.Option(help="Muscle tightness, 0-10.")] = None,
    tingling: Annotated[int | None, typer.Option(help="Tingling or numbness, 0-10.")] = None,
    balance: Annotated[int | None, typer.Option(help="Balance problems, 0-10.")] = None,
    fatigue: Annotated[int | None, typer.Option(help="Tiredness, 0-10.")] = None,
    note: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
) -> None:
    """Record a symptom diary entry (0 = none, 10 = worst imaginable)."""
    from ..store.records import SymptomsIn

    with _errors(), _store(db) as store:
        entry = store.add_symptoms(
            person,
            SymptomsIn(
                date=_date(date),
                cramps_per_week=cramps,
                worst_severity=severity,
                tightness=tightness,
                tingling_numbness=tingling,
                balance=balance,
                fatigue=fatigue,
                note=note,
            ),
            create=True,
        )
        typer.echo(f"recorded symptoms on {entry.date} ({entry.uid})")


@record_app.command("start-treatment")
def start_treatment(
    person: PersonArg,
    route: Annotated[
        str, typer.Option(help="intramuscular, oral, intravenous, sublingual, nasal or other.")
    ],
    product: Annotated[str, typer.Option(help="e.g. hydroxocobalamin, cyanocobalamin.")],
    dose: Annotated[str, typer.Option(help='e.g. "1 mg", "1000 micrograms".')],
    frequency: Annotated[str, typer.Option(help='e.g. "every 2 months", "daily".')],
    date: DateOption = "today",
    indication: Annotated[str, typer.Option(help="KB cause id.")] = "b12_deficiency",
    lifelong: Annotated[
        bool,
        typer.Option(
            help="The cause is irreversible (e.g. pernicious anaemia): treatment is for life."
        ),
    ] = False,
    note: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
) -> None:
    """Start a course of treatment (a change of dose, frequency or route is a new course)."""
    from ..store.records import TreatmentIn

    with _errors(), _store(db) as store:
        course = store.start_treatment(
            person,
            TreatmentIn.model_validate(
                dict(
                    started_on=_date(date),
                    route=route.strip().lower(),
                    product=product,
                    dose=dose,
                    frequency=frequency,
                    indication=indication,
                    lifelong=lifelong,
                    note=note,
                )
            ),
            create=True,
        )
        typer.echo(
            f"started {course.product} {course.dose} {course.frequency} "
            f"({course.route}) on {course.started_on} ({course.uid})"
        )


@record_app.command("stop-treatment")
def stop_treatment(
    person: PersonArg,
    date: DateOption = "today",
    uid: Annotated[str | None, typer.Option(help="Which course (when several are active).")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
) -> None:
    """Stop a course of treatment."""
    with _errors(), _store(db) as store:
        course = store.stop_treatment(person, stopped_on=_date(date), uid=uid, reason=reason)
        typer.echo(f"stopped {course.product} on {course.stopped_on} ({course.uid})")


@record_app.command("add-assessment")
def add_assessment(
    person: PersonArg,
    case: Annotated[Path, typer.Argument(help="A case file (JSON or YAML) to assess.")],
    date: DateOption = "today",
    db: DbOption = None,
) -> None:
    """Assess a case with b12dx and store the assessment in the person's record."""
    from .. import assess, load_case

    with _errors(), _store(db) as store:
        result = assess(load_case(case), kb=store.kb)
        data = json.loads(result.to_json())
        stored = store.add_assessment(person, data, day=_date(date), create=True)
        typer.echo(
            f"stored assessment: {stored.triage_level}, top cause {stored.top_cause} ({stored.uid})"
        )


# -- reading ---------------------------------------------------------------------------------


@record_app.command("show")
def show(
    person: PersonArg,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    db: DbOption = None,
) -> None:
    """Show everything recorded for a person."""
    with _errors(), _store(db) as store:
        tl = store.timeline(person)
        if fmt == "json":
            typer.echo(tl.model_dump_json(indent=2))
        elif fmt == "text":
            _print_timeline(tl)
        else:
            raise InputError(f"format {fmt!r} is not one of text, json", where="--format")


def _print_timeline(tl: Timeline) -> None:
    from rich.table import Table as RichTable

    def table_of(*headers: str, title: str, title_justify: str) -> Any:
        # fold long words instead of cutting them off in narrow terminals
        table = RichTable(title=title, title_justify=title_justify)  # type: ignore[arg-type]
        for h in headers:
            table.add_column(h, overflow="fold")
        return table

    con = _console()
    p = tl.person
    details = ", ".join(
        x
        for x in (
            p.sex or "sex not recorded",
            "pregnant" if p.pregnant else "",
            "breastfeeding" if p.breastfeeding else "",
            *p.conditions,
        )
        if x
    )
    con.print(f"[bold]{p.ref}[/] ({details})")
    if tl.treatments:
        table = table_of(
            "started",
            "stopped",
            "route",
            "product",
            "dose",
            "frequency",
            "uid",
            title="treatments",
            title_justify="left",
        )
        for t in tl.treatments:
            table.add_row(
                str(t.started_on),
                str(t.stopped_on or "active"),
                t.route,
                t.product,
                t.dose,
                t.frequency,
                t.uid[:8],
            )
        con.print(table)
    if tl.labs:
        table = table_of("date", "test", "value", "unit", title="labs", title_justify="left")
        for lab in tl.labs:
            table.add_row(str(lab.date), lab.test, f"{lab.value:g}", lab.unit)
        con.print(table)
    if tl.symptoms:
        table = table_of(
            "date",
            "cramps/wk",
            "worst",
            "tightness",
            "tingling",
            "balance",
            "fatigue",
            title="symptom diary (0-10)",
            title_justify="left",
        )
        for s in tl.symptoms:
            table.add_row(
                str(s.date),
                *(
                    "-" if v is None else str(v)
                    for v in (
                        s.cramps_per_week,
                        s.worst_severity,
                        s.tightness,
                        s.tingling_numbness,
                        s.balance,
                        s.fatigue,
                    )
                ),
            )
        con.print(table)
    for a in tl.assessments:
        con.print(f"assessment {a.date}: triage {a.triage_level}, top cause {a.top_cause}")
    for r in tl.reviews:
        con.print(f"review {r.date}: {r.outcome}" + (f" — {r.note}" if r.note else ""))


@record_app.command("review")
def review_cmd(
    person: PersonArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Review date (default today).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            help="Record this review as held, with the outcome you judged: "
            "improved, not_improved or worse.",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
) -> None:
    """Is treatment working, is a review due, and what do the follow-up rules say?"""
    from ..monitor import review
    from ..store.records import ReviewIn

    with _errors(), _store(db) as store:
        day = _date(as_of, "--as-of")
        if record is not None:
            tl = store.timeline(person)
            current = review(tl, as_of=day, kb=store.kb)
            store.add_review(
                person,
                ReviewIn.model_validate(
                    dict(
                        date=day,
                        outcome=record,
                        note=note,
                        treatment_uid=current.course.treatment_uid if current.course else None,
                    )
                ),
            )
        result = review(store.timeline(person), as_of=day, kb=store.kb)
        if fmt == "json":
            typer.echo(result.model_dump_json(indent=2, by_alias=True))
        elif fmt == "text":
            _print_review(result)
        else:
            raise InputError(f"format {fmt!r} is not one of text, json", where="--format")


def _print_review(r: ReviewResult) -> None:
    con = _console()
    con.print(f"[bold]Follow-up review of {r.person}[/] as of {r.as_of}")
    c = r.course
    if c is None:
        con.print("No treatment recorded: nothing to review.")
    else:
        state = (
            "reviewed on " + str(c.reviewed_on)
            if c.reviewed_on
            else ("[red]OVERDUE[/]" if c.overdue else "not yet held")
        )
        con.print(
            f"Course: {c.product} {c.dose} {c.frequency} ({c.route}) since "
            f"{c.started_on}{'; lifelong' if c.lifelong else ''}"
        )
        con.print(f"Review due {c.review_due} ({c.review_interval_months:g} months): {state}")
        basis = {
            "diary": "from the symptom diary",
            "recorded_review": "as recorded at review",
            "none": "not enough symptom diary entries since the start",
        }[r.response_basis]
        con.print(f"Response: [bold]{r.response.replace('_', ' ')}[/] ({basis})")
    for ch in r.changes:
        if ch.change != "unknown":
            con.print(f"  {ch.domain.replace('_', ' ')}: {ch.baseline} → {ch.latest} ({ch.change})")
    for t in r.labs:
        band = f", {t.latest_band}" if t.latest_band else ""
        if t.n == 1:
            con.print(f"  {t.name}: {t.latest_value:g} {t.unit} ({t.latest_date}){band}")
        else:
            con.print(
                f"  {t.name}: {t.first_value:g} ({t.first_date}) → {t.latest_value:g} {t.unit} "
                f"({t.latest_date}){band}; {t.n} results"
            )
    colours = {"urgent": "bold red", "action": "yellow", "info": "cyan"}
    for f in r.flags:
        con.print(f"[{colours[f.level]}]{f.level.upper()}[/] {f.text}")
        con.print(f"    why: {f.reason}  [dim](rule {f.rule}; sources: {', '.join(f.sources)})[/]")


@record_app.command("plot")
def plot_cmd(
    person: PersonArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG or SVG file to write.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="png or svg (default: from the file name)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Plot B12, MMA, haemoglobin and the symptom diary over time, with treatment shaded."""
    from ..plots import plot_timeline

    with _errors(), _store(db) as store:
        kind = (fmt or output.suffix.lstrip(".") or "png").lower()
        if kind not in ("png", "svg"):
            raise InputError(f"format {kind!r} is not one of png, svg", where="--format")
        data = plot_timeline(store.timeline(person), fmt=kind, kb=store.kb)  # type: ignore[arg-type]
        output.write_bytes(data)
        typer.echo(f"wrote {output} ({len(data)} bytes)")


# -- export / import -------------------------------------------------------------------------


@record_app.command("export")
def export_cmd(
    output: Annotated[str, typer.Option("--output", "-o", help="File, or - for stdout.")] = "-",
    person: Annotated[
        list[str] | None, typer.Option(help="Only these people (repeatable).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export records as JSON Lines (schema b12dx/records/v1)."""
    from ..store.jsonl import export_lines

    with _errors(), _store(db) as store:
        lines = export_lines(store, refs=person or None)
        if output == "-":
            for line in lines:
                sys.stdout.write(line + "\n")
        else:
            tmp = Path(output + ".part")
            with tmp.open("w", encoding="utf-8") as fh:
                for line in lines:
                    fh.write(line + "\n")
            tmp.replace(output)  # never leave a half-written export under the real name


@record_app.command("import")
def import_cmd(
    source: Annotated[str, typer.Argument(help="JSON Lines file, or - for stdin.")],
    batch_size: Annotated[int, typer.Option(help="Lines per transaction.")] = 500,
    rejects: Annotated[
        Path | None, typer.Option(help="Write rejected lines' reasons here.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Import JSON Lines records; records already present are skipped, so re-running is safe."""
    from ..store.jsonl import ImportReport, import_lines

    def progress(rep: ImportReport) -> None:
        sys.stderr.write(f"committed {rep.committed} (lines {rep.lines})\n")
        sys.stderr.flush()

    with _errors(), _store(db) as store:
        if source == "-":
            report = import_lines(store, sys.stdin, batch_size=batch_size, progress=progress)
        else:
            path = Path(source)
            if not path.is_file():
                raise InputError(f"cannot read {source}: no such file", where="source")
            with path.open(encoding="utf-8") as fh:
                report = import_lines(store, fh, batch_size=batch_size, progress=progress)
        if rejects is not None:
            rejects.write_text(
                "".join(f"line {n}: {why}\n" for n, why in report.rejected), encoding="utf-8"
            )
        typer.echo(
            f"imported {report.added} records, {report.skipped} already present, "
            f"{len(report.rejected)} rejected"
        )
        for n, why in report.rejected[:20]:
            typer.echo(f"  line {n}: {why}", err=True)
        if report.rejected:
            raise typer.Exit(2)


@record_app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="User name for the web service.")],
    admin: Annotated[bool, typer.Option(help="May create other users.")] = False,
    db: DbOption = None,
) -> None:
    """Create a user of the records API and print their token (shown only this once)."""
    with _errors(), _store(db) as store:
        user, token = store.create_user(name, admin=admin)
        typer.echo(f"user {user.name} (id {user.id}{', admin' if user.is_admin else ''})")
        typer.echo(token)
