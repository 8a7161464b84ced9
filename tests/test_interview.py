"""The adaptive interview: red flags first, most informative question next, stop rule, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from b12dx.assessment import assess, posterior_of
from b12dx.interview import InterviewStep, interview_settings, next_step
from b12dx.kb import KnowledgeBase
from b12dx.plan import entropy
from b12dx.triage import LEVELS
from service_support import ROOT, service_kb

BASE = {"age": 58, "sex": "female", "evidence": [{"id": "muscle_cramps", "initial": True}]}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return service_kb()


def _answer(case: dict[str, Any], ident: str, state: str) -> dict[str, Any]:
    return {
        **case,
        "evidence": [*case["evidence"], {"id": ident, "state": state, "source": "interview"}],
    }


def _red_flags_done(kb: KnowledgeBase, case: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    asked: list[str] = []
    while True:
        step = next_step(case, answered=asked, kb=kb)
        assert step.question is not None
        if step.question.kind != "red_flag":
            return case, asked
        asked.append(step.question.id)
        case = _answer(case, step.question.id, "absent")


def test_red_flags_come_first_most_urgent_rule_first(kb: KnowledgeBase) -> None:
    _, asked = _red_flags_done(kb, BASE)
    red = {f.id for f in kb.findings if f.kind == "red_flag" and f.question}
    assert set(asked) == red
    rank = {level: i for i, level in enumerate(LEVELS)}
    best = {}
    for flag in kb.triage.red_flags:
        for ident in (*flag.when.all_of, *flag.when.any_of):
            best[ident] = min(best.get(ident, 99), rank[flag.level])
    order = [best.get(i, 99) for i in asked]
    assert order == sorted(order)


def test_red_flag_questions_are_plain_and_explained(kb: KnowledgeBase) -> None:
    step = next_step(BASE, kb=kb)
    q = step.question
    assert q is not None and q.kind == "red_flag"
    assert q.text == kb.finding_by_id[q.id].question
    assert q.rationale.startswith("Asked first")
    assert not step.should_stop and step.stop_reason is None


def test_an_urgent_answer_stops_the_interview(kb: KnowledgeBase) -> None:
    stopped = []
    for f in kb.findings:
        if f.kind != "red_flag" or not f.question:
            continue
        case = _answer(BASE, f.id, "present")
        step = next_step(case, kb=kb)
        if step.triage.level in ("emergency_ambulance", "emergency"):
            assert step.should_stop and step.stop_reason == "urgent"
            assert step.question is None
            stopped.append(f.id)
    assert stopped, "no red flag alone leads to an emergency level"


def _oracle_gain(kb: KnowledgeBase, case: dict[str, Any], ident: str, kind: str) -> float:
    """EIG from three independent assessments (now, yes, no), the mixture giving P(yes)."""
    ids = list(posterior_of(case, kb=kb))
    now = np.array([posterior_of(case, kb=kb)[c] for c in ids])
    yes_case = _answer(case, ident, "present")
    yes = np.array([posterior_of(yes_case, kb=kb)[c] for c in ids])
    if kind == "risk_factor":
        no = now
        p = interview_settings().risk_factor_yes_probability.value
    else:
        no_case = _answer(case, ident, "absent")
        no = np.array([posterior_of(no_case, kb=kb)[c] for c in ids])
        j = int(np.argmax(np.abs(yes - no)))
        # law of total probability: now = p * yes + (1 - p) * no
        p = float((now[j] - no[j]) / (yes[j] - no[j]))
    mix = p * yes + (1 - p) * no
    return max(0.0, float(entropy(mix)) - (p * float(entropy(yes)) + (1 - p) * float(entropy(no))))


def test_the_next_question_is_the_most_informative(kb: KnowledgeBase) -> None:
    case, asked = _red_flags_done(kb, BASE)
    step = next_step(case, answered=asked, kb=kb)
    q = step.question
    assert q is not None and q.kind in ("finding", "risk_factor")
    assert q.expected_information_gain is not None
    oracle = _oracle_gain(kb, case, q.id, q.kind)
    assert q.expected_information_gain == pytest.approx(oracle, abs=2e-4)
    assert q.expected_information_gain >= interview_settings().min_information_gain.value
    done = {e["id"] for e in case["evidence"]}
    others = [
        f.id
        for f in kb.findings
        if f.kind not in ("lab", "red_flag") and f.question and f.id not in done
    ][:15]
    for ident in others:
        assert _oracle_gain(kb, case, ident, "finding") <= q.expected_information_gain + 2e-4
    assert "bits expected" in q.rationale


def test_skipped_questions_are_not_asked_again(kb: KnowledgeBase) -> None:
    case, asked = _red_flags_done(kb, BASE)
    first = next_step(case, answered=asked, kb=kb).question
    assert first is not None
    second = next_step(case, answered=asked, skipped=[first.id], kb=kb)
    assert second.question is None or second.question.id != first.id
    assert second.questions_asked == len(asked) + 1


def test_max_questions_never_cuts_red_flags(kb: KnowledgeBase) -> None:
    step = next_step(BASE, kb=kb, max_questions=1)
    assert step.question is not None and step.question.kind == "red_flag"
    case, asked = _red_flags_done(kb, BASE)
    step = next_step(case, answered=asked, kb=kb, max_questions=1)
    assert step.question is not None and step.question.kind != "red_flag"
    case = _answer(case, step.question.id, "absent")
    step = next_step(case, answered=[*asked, step.question.id], kb=kb, max_questions=1)
    assert step.should_stop and step.stop_reason == "max_questions"


def _with(monkeypatch: pytest.MonkeyPatch, **values: float) -> None:
    import b12dx.interview as iv

    cfg = iv.interview_settings()
    changed = cfg.model_copy(
        update={k: getattr(cfg, k).model_copy(update={"value": v}) for k, v in values.items()}
    )
    monkeypatch.setattr(iv, "interview_settings", lambda: changed)


def test_stop_when_confident(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    case, asked = _red_flags_done(kb, BASE)
    _with(monkeypatch, confident_probability=0.0)
    step = next_step(case, answered=asked, kb=kb)
    assert step.should_stop and step.stop_reason == "confident"


def test_stop_when_nothing_is_informative(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, asked = _red_flags_done(kb, BASE)
    _with(monkeypatch, min_information_gain=1e9)
    step = next_step(case, answered=asked, kb=kb)
    assert step.should_stop and step.stop_reason == "nothing_informative"


def test_an_interview_ends(kb: KnowledgeBase) -> None:
    """Answering 'no' to everything reaches a stop within the limit."""
    case, asked = dict(BASE), []
    limit = int(interview_settings().max_questions.value)
    red = len([f for f in kb.findings if f.kind == "red_flag" and f.question])
    for _ in range(red + limit + 1):
        step = next_step(case, answered=asked, kb=kb)
        if step.should_stop:
            break
        assert step.question is not None
        asked.append(step.question.id)
        case = _answer(case, step.question.id, "absent")
    assert step.should_stop
    assert step.differential == sorted(step.differential, key=lambda c: -c.probability)
    assert step.triage == assess(case, kb=kb).triage


def test_step_is_serialisable(kb: KnowledgeBase) -> None:
    step = next_step(BASE, kb=kb)
    assert InterviewStep.model_validate_json(step.model_dump_json()) == step


def test_settings_have_sources_and_rationales(kb: KnowledgeBase) -> None:
    cfg = interview_settings()
    local = {s.id for s in cfg.source}
    for name in (
        "confident_probability",
        "min_information_gain",
        "max_questions",
        "risk_factor_yes_probability",
    ):
        num = getattr(cfg, name)
        assert num.sources and all(s in local or s in kb.source_by_id for s in num.sources)
        if num.evidence == "estimate":
            assert num.rationale


# -- the terminal command ------------------------------------------------------------------


def _red_flag_count(kb: KnowledgeBase) -> int:
    return len([f for f in kb.findings if f.kind == "red_flag" and f.question])


def test_terminal_interview_end_to_end(kb: KnowledgeBase, tmp_path: Path) -> None:
    from b12dx.cli import app

    save = tmp_path / "case.json"
    answers = ["58", "female", "n", "1"]  # age, sex, not pregnant, main complaint
    answers += ["n"] * _red_flag_count(kb)  # red-flag screening
    answers += ["maybe", "n", "d", "s", "q"]  # one invalid answer, then a few
    args = ["interview", "--save", str(save)]
    if os.environ.get("B12DX_TEST_KB"):
        args += ["--kb", os.environ["B12DX_TEST_KB"]]
    out = CliRunner().invoke(app, args, input="\n".join(answers) + "\n")
    assert out.exit_code == 0, out.output
    assert "Q1." in out.stdout and "(why:" in out.stdout
    assert "Please answer" in out.stderr
    assert "Stopped at your request." in out.stdout or "Stopping:" in out.stdout
    assert "triage" in out.stdout.lower()
    saved = json.loads(save.read_text(encoding="utf-8"))
    states = [e["state"] for e in saved["evidence"] if e.get("source") == "interview"]
    red = _red_flag_count(kb)
    assert states[:red] == ["absent"] * red
    assert states[red:] == ["absent", "unknown"][: len(states) - red]


def test_terminal_interview_from_a_case_file_in_a_subprocess(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    case = tmp_path / "start.json"
    case.write_text(json.dumps(BASE), encoding="utf-8")
    answers = "\n".join(["n"] * (_red_flag_count(kb) + 1)) + "\n"
    cmd = [
        sys.executable,
        "-m",
        "b12dx",
        "interview",
        "--case",
        str(case),
        "--max-questions",
        "1",
        "--format",
        "json",
        "--no-why",
    ]
    if os.environ.get("B12DX_TEST_KB"):
        cmd += ["--kb", os.environ["B12DX_TEST_KB"]]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        cmd, input=answers, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Stopping: that was the last question." in text
    result = json.loads(text[text.index("{") :])
    assert result["schema"] == "b12dx/assessment/v1"


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.lists(
        st.sampled_from(["present", "absent", "unknown", "skip"]), min_size=60, max_size=60
    )
)
def test_any_answers_end_the_interview_without_repeats(answers: list[str]) -> None:
    """Whatever the answers: no question twice, red flags before anything else, and an end."""
    kb = service_kb()  # not a fixture: Hypothesis would print the whole KB on failure
    case: dict[str, Any] = {**BASE, "evidence": list(BASE["evidence"])}
    answered: list[str] = []
    skipped: list[str] = []
    kinds: list[str] = []
    limit = int(interview_settings().max_questions.value)
    for answer in answers:
        step = next_step(case, answered=answered, skipped=skipped, kb=kb)
        if step.should_stop:
            assert step.stop_reason is not None
            break
        q = step.question
        assert q is not None and q.id not in answered and q.id not in skipped
        kinds.append(q.kind)
        if answer == "skip":
            skipped.append(q.id)
        else:
            answered.append(q.id)
            case = _answer(case, q.id, answer)
    else:
        pytest.fail("the interview did not end within 60 answers")
    first_other = next((i for i, k in enumerate(kinds) if k != "red_flag"), len(kinds))
    assert all(k != "red_flag" for k in kinds[first_other:])
    assert len(kinds) - first_other <= limit
