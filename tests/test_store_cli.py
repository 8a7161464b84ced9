"""``b12dx record``: the command line over the record store (SQLite file via --db)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from b12dx.cli import app
from b12dx.kb import KnowledgeBase
from b12dx.monitor import RULE_REVIEW, add_months

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


def run(db: str, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = runner.invoke(app, ["record", *args, "--db", db], input=stdin)
    assert result.exit_code == code, (args, result.output, result.exception)
    return result.output


def test_record_a_course_and_review_it(db: str, kb: KnowledgeBase) -> None:
    run(db, "person", "p1", "--sex", "female", "--condition", "autoimmune_gastritis")
    run(
        db,
        "add-lab",
        "p1",
        "--test",
        "b12_total",
        "--value",
        "140",
        "--unit",
        "ng/L",
        "--date",
        "2025-01-05",
    )
    run(
        db,
        "add-lab",
        "p1",
        "--test",
        "haemoglobin",
        "--value",
        "101",
        "--unit",
        "g/L",
        "--date",
        "2025-01-05",
    )
    run(
        db,
        "add-symptoms",
        "p1",
        "--date",
        "2025-01-05",
        "--cramps",
        "6",
        "--severity",
        "7",
        "--tingling",
        "2",
    )
    out = run(
        db,
        "start-treatment",
        "p1",
        "--date",
        "2025-01-06",
        "--route",
        "intramuscular",
        "--product",
        "hydroxocobalamin",
        "--dose",
        "1 mg",
        "--frequency",
        "alternate days",
    )
    assert "started hydroxocobalamin" in out
    run(
        db,
        "add-symptoms",
        "p1",
        "--date",
        "2025-03-01",
        "--cramps",
        "1",
        "--severity",
        "2",
        "--tingling",
        "1",
    )
    text = run(db, "review", "p1", "--as-of", "2025-03-02")
    months = next(r for r in kb.followup if r.id == RULE_REVIEW).params["review_months"].value
    import datetime as dt

    due = add_months(dt.date(2025, 1, 6), months)
    assert f"Review due {due}" in text and "lifelong" in text  # autoimmune gastritis
    assert "improved" in text
    data = json.loads(run(db, "review", "p1", "--as-of", "2025-03-02", "--format", "json"))
    assert data["schema"] == "b12dx/review/v1" and data["response"] == "improved"
    shown = run(db, "show", "p1")
    assert "hydroxo" in shown and "b12_total" in shown and "2025-01-06" in shown
    timeline = json.loads(run(db, "show", "p1", "--format", "json"))
    assert len(timeline["labs"]) == 2 and len(timeline["symptoms"]) == 2
    run(db, "review", "p1", "--as-of", str(due), "--record", "improved", "--note", "well")
    again = json.loads(run(db, "review", "p1", "--as-of", str(due), "--format", "json"))
    assert again["course"]["reviewed_on"] == str(due)
    out = run(db, "stop-treatment", "p1", "--date", "2025-06-01", "--reason", "moved")
    assert "stopped hydroxocobalamin on 2025-06-01" in out


def test_plot_export_and_import(db: str, tmp_path: Path) -> None:
    run(
        db,
        "add-lab",
        "p1",
        "--test",
        "mma",
        "--value",
        "0.6",
        "--unit",
        "umol/L",
        "--date",
        "2025-01-05",
    )
    run(db, "add-symptoms", "p1", "--date", "2025-01-05", "--cramps", "3")
    svg, png = tmp_path / "p1.svg", tmp_path / "p1.png"
    run(db, "plot", "p1", "-o", str(svg))
    run(db, "plot", "p1", "-o", str(png))
    assert svg.read_bytes().lstrip().startswith(b"<?xml") and png.read_bytes()[:4] == b"\x89PNG"
    run(db, "plot", "p1", "-o", str(tmp_path / "p1.gif"), code=2)
    exported = tmp_path / "all.jsonl"
    run(db, "export", "-o", str(exported))
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    out = run(other, "import", str(exported))
    assert "imported 3 records, 0 already present, 0 rejected" in out
    run(other, "export", "-o", str(tmp_path / "again.jsonl"))
    assert (tmp_path / "again.jsonl").read_text() == exported.read_text()
    out = run(other, "import", "-", stdin=exported.read_text())
    assert "imported 0 records, 3 already present" in out
    stdout = run(db, "export")
    assert stdout == exported.read_text()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["add-lab", "p1", "--test", "b12_total", "--value", "140", "--unit", "parsec"],
            "accepted units",
        ),
        (
            ["add-lab", "p1", "--test", "b12_totl", "--value", "140", "--unit", "ng/L"],
            "unknown lab test",
        ),
        (["add-symptoms", "p1", "--severity", "12"], "less than or equal to 10"),
        (
            [
                "add-lab",
                "p1",
                "--test",
                "b12_total",
                "--value",
                "1",
                "--unit",
                "ng/L",
                "--date",
                "05/01/2025",
            ],
            "use YYYY-MM-DD",
        ),
        (
            [
                "start-treatment",
                "p1",
                "--route",
                "rectal",
                "--product",
                "x",
                "--dose",
                "1",
                "--frequency",
                "d",
            ],
            "route",
        ),
        (["show", "nobody"], "no person 'nobody'"),
        (["import", "/nonexistent.jsonl"], "cannot read"),
    ],
)
def test_bad_input_exits_2_with_a_message(db: str, args: list[str], words: str) -> None:
    result = runner.invoke(app, ["record", *args, "--db", db])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_import_reports_rejected_lines(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "person", "ref": "p1"}\n{oops\n')
    rejects = tmp_path / "rejects.txt"
    out = run(db, "import", str(bad), "--rejects", str(rejects), code=2)
    assert "imported 1 records, 0 already present, 1 rejected" in out
    assert rejects.read_text().startswith("line 2: not JSON")


def test_add_user_prints_a_token_once(db: str) -> None:
    out = run(db, "add-user", "clinic", "--admin")
    name_line, token = out.strip().splitlines()
    assert "admin" in name_line and token.startswith("b12dx_")
    run(db, "add-user", "clinic", code=2)


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.setenv("B12DX_DATABASE_URL", url)
    result = runner.invoke(app, ["record", "person", "p9"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env.sqlite3").exists()
    assert runner.invoke(app, ["record", "list"]).output.split() == ["p9"]


def test_add_assessment_stores_what_assess_returns(db: str, tmp_path: Path) -> None:
    import b12dx

    case = {
        "age": 55,
        "sex": "male",
        "evidence": [{"id": "muscle_cramps", "initial": True}],
        "labs": [{"test": "potassium", "value": 2.4, "unit": "mmol/L"}],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    out = run(db, "add-assessment", "p1", str(path), "--date", "2025-02-01")
    expected = b12dx.assess(case)
    assert f"stored assessment: {expected.triage.level}" in out
    shown = json.loads(run(db, "show", "p1", "--format", "json"))
    assert shown["assessments"][0]["top_cause"] == expected.top_cause.id
