"""``b12dx assess --text`` / ``--text-file``: the Assessment's case shows what was understood."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

if importlib.util.find_spec("medspacy") is None:  # pragma: no cover - without the nlp extra
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs the nlp extra: pip install -e '.[all,dev]'")
    pytest.skip("the nlp extra (medspacy) is not installed", allow_module_level=True)

from b12dx.cli import main

TEXT = (
    "I'm a 67 year old woman. My calves lock up at night and my feet tingle, no swelling. "
    "I'm vegan. On omeprazole for five years; my B12 came back at 150 pg/mL."
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def understood(case: dict[str, object]) -> set[tuple[str, str]]:
    evidence = case["evidence"]
    assert isinstance(evidence, list)
    return {(e["id"], e["state"]) for e in evidence}


def check(case: dict[str, object]) -> None:
    assert (case["age"], case["sex"]) == (67, "female")
    assert understood(case) >= {
        ("nocturnal_leg_cramps", "present"),
        ("muscle_cramps", "present"),
        ("paresthesia_feet", "present"),
        ("unilateral_calf_swelling", "absent"),
        ("vegan_diet", "present"),
    }
    assert all(e["source"] == "text" for e in case["evidence"])  # type: ignore[union-attr]
    meds = case["medications"]
    assert isinstance(meds, list) and len(meds) == 1
    assert (meds[0]["name"], meds[0]["years"], meds[0]["drug_class"]) == ("omeprazole", 5, "ppi")
    (lab,) = case["labs"]  # type: ignore[misc]
    assert lab["test"] == "b12_total" and lab["original_value"] == 150
    assert lab["original_unit"] == "pg/mL"


def test_assess_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "assess", "--text", TEXT, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    check(result["case"])
    assert result["differential"][0]["id"] == "b12_deficiency"


def test_assess_text_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "intake.txt"
    path.write_text(TEXT, encoding="utf-8")
    code, out, err = run(capsys, "assess", "--text-file", str(path), "--format", "json")
    assert code == 0, err
    check(json.loads(out)["case"])


def test_assess_text_with_options_for_what_the_text_lacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys,
        "assess",
        "--text",
        "Charley horses most nights. No swelling.",
        "--age",
        "58",
        "--sex",
        "male",
        "--format",
        "json",
    )
    assert code == 0, err
    case = json.loads(out)["case"]
    assert (case["age"], case["sex"]) == (58, "male")
    assert understood(case) >= {
        ("nocturnal_leg_cramps", "present"),
        ("unilateral_calf_swelling", "absent"),
    }


def test_assess_text_without_age_or_sex_says_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "assess", "--text", "My calves cramp at night.")
    assert code == 2
    assert "age" in err and "sex" in err
