"""The command line, driven the way users drive it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from b12dx.cli import main

MINI = str(Path(__file__).parent / "fixtures" / "mini_kb")


def run(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_assess_from_options_prints_a_report(capsys):
    code, out, _ = run(
        capsys,
        "assess",
        "--kb",
        MINI,
        "--age",
        "70",
        "--sex",
        "female",
        "--finding",
        "muscle_cramps",
        "--finding",
        "paresthesia_feet",
        "--lab",
        "b12_total=150 pg/mL",
        "--med",
        "metformin:6",
    )
    assert code == 0
    assert "Vitamin B12 deficiency" in out and "Differential" in out and "Sources" in out
    assert "See a doctor within 24 hours" in out


def test_assess_json_follows_the_schema(capsys):
    import jsonschema

    code, out, _ = run(
        capsys,
        "assess",
        "--kb",
        MINI,
        "--age",
        "70",
        "--sex",
        "female",
        "--finding",
        "muscle_cramps=present",
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(out)
    schema = json.loads(
        (Path(__file__).parents[1] / "schemas" / "assessment.schema.json").read_text()
    )
    jsonschema.validate(data, schema)
    assert data["schema"] == "b12dx/assessment/v1"


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_other_formats(capsys, fmt):
    code, out, _ = run(
        capsys,
        "assess",
        "--kb",
        MINI,
        "--age",
        "40",
        "--sex",
        "male",
        "--finding",
        "muscle_cramps",
        "-f",
        fmt,
    )
    assert code == 0
    assert ("## Differential" in out) if fmt == "markdown" else out.startswith("<!doctype html>")


def test_assess_reads_stdin(capsys, monkeypatch):
    case = {"age": 55, "sex": "male", "evidence": [{"id": "muscle_cramps"}]}
    code, out, _ = run(
        capsys,
        "assess",
        "-",
        "--kb",
        MINI,
        "-f",
        "json",
        stdin=json.dumps(case),
        monkeypatch=monkeypatch,
    )
    assert code == 0 and json.loads(out)["case"]["age"] == 55


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--finding", "paresthesia_foot"], "Did you mean 'paresthesia_feet'?"),
        (["--lab", "b12_total=150 mg/dL"], "accepted units"),
        (["--lab", "b12_total=abc"], "expected TEST=VALUE UNIT"),
        (["--finding", "fatigue=maybe"], "present, absent or unknown"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, args, fragment):
    code, _, err = run(capsys, "assess", "--kb", MINI, "--age", "50", "--sex", "female", *args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


def test_missing_file_and_child(capsys, tmp_path):
    code, _, err = run(capsys, "assess", str(tmp_path / "nope.json"), "--kb", MINI)
    assert code == 2 and "no such case file" in err
    code, _, err = run(capsys, "assess", "--kb", MINI, "--age", "9", "--sex", "male")
    assert code == 2 and "16" in err


def test_explain(capsys, tmp_path):
    p = tmp_path / "case.json"
    p.write_text(
        json.dumps(
            {
                "age": 70,
                "sex": "female",
                "evidence": [{"id": "muscle_cramps"}, {"id": "paresthesia_feet"}],
            }
        )
    )
    code, out, _ = run(capsys, "explain", str(p), "--cause", "b12_deficiency", "--kb", MINI)
    assert code == 0 and "For:" in out and "paresthesia" in out.lower()
    code, _, err = run(capsys, "explain", str(p), "--cause", "b12_deficency", "--kb", MINI)
    assert code == 2 and "b12_deficiency" in err


def test_kb_commands(capsys, tmp_path):
    code, out, _ = run(capsys, "kb", "validate", "--kb", MINI)
    assert code == 0 and out.startswith("ok:")
    code, out, _ = run(capsys, "kb", "findings", "--kb", MINI, "--json")
    assert code == 0 and any(r["id"] == "paresthesia_feet" for r in json.loads(out))
    code, out, _ = run(capsys, "kb", "show", "b12_deficiency", "--kb", MINI)
    assert code == 0 and json.loads(out)["links"]
    code, _, err = run(capsys, "kb", "show", "b12_deficency", "--kb", MINI)
    assert code == 2 and "Did you mean" in err


def test_kb_validate_reports_every_problem(capsys, tmp_path):
    import shutil

    broken = tmp_path / "kb"
    shutil.copytree(MINI, broken)
    links = broken / "links.toml"
    text = links.read_text().replace('finding = "fatigue"', 'finding = "fatigued"', 1)
    text = text.replace('cause = "hypokalaemia"', 'cause = "hypokalemia"', 1)
    links.write_text(text)
    code, out, _ = run(capsys, "kb", "validate", "--kb", str(broken))
    assert code == 1
    assert "unknown finding 'fatigued'" in out and "unknown cause 'hypokalemia'" in out


def test_python_dash_m_works():
    proc = subprocess.run(
        [sys.executable, "-m", "b12dx", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "assess" in proc.stdout


def test_explicit_finding_overrides_the_file(capsys, tmp_path):
    p = tmp_path / "case.json"
    p.write_text(
        json.dumps({"age": 60, "sex": "male", "evidence": [{"id": "fatigue", "state": "present"}]})
    )
    code, out, _ = run(
        capsys, "assess", str(p), "--kb", MINI, "--finding", "fatigue=absent", "-f", "json"
    )
    assert code == 0
    assert json.loads(out)["case"]["evidence"] == [
        {"id": "fatigue", "state": "absent", "initial": False, "source": None}
    ]
