"""Driving the pages the way a person does: fill in, click, read what is on the screen."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT_PATH = "/questionnaire/result"
MAX_STEPS = 60


@dataclass(frozen=True)
class Outcome:
    """What the result page shows."""

    level: str
    causes: list[tuple[str, str]]  # (cause id, probability text) in the order shown
    asked: list[str]  # question ids in the order they were asked

    @property
    def top(self) -> str:
        return self.causes[0][0]


def start_questionnaire(
    page: Any,
    *,
    age: int,
    sex: str,
    complaints: list[str],
    pregnant: bool = False,
    description: str | None = None,
) -> None:
    page.goto("/questionnaire?new=1")
    page.fill("#age", str(age))
    page.check(f"input[name=sex][value={sex}]")
    if pregnant:
        page.check("#pregnant")
    for c in complaints:
        page.check(f"input[name=complaint][value={c}]")
    if description is not None and page.is_visible("#description"):
        page.fill("#description", description)
    page.click("#about-next")


def _wait_for_question_or_result(page: Any, asked: int) -> bool:
    """Wait until question number *asked* + 1 is on screen (True) or the result is (False)."""
    page.wait_for_function(
        """([path, n]) => location.pathname === path ||
             (!document.getElementById('step-question').hidden &&
              document.getElementById('question-form').dataset.asked === String(n))""",
        arg=[RESULT_PATH, asked],
    )
    return not page.url.endswith(RESULT_PATH)


def answer_questions(
    page: Any,
    answers: dict[str, str],
    *,
    default: str = "absent",
    already: int = 0,
    until: str | None = None,
) -> list[str]:
    """Answer each question from *answers* by id (else *default*) until the result shows.

    *already*: how many questions were answered before this call. *until*: return when the
    question with this id is on screen (unanswered)."""
    asked: list[str] = []
    for _ in range(MAX_STEPS):
        if not _wait_for_question_or_result(page, already + len(asked)):
            return asked
        qid = page.get_attribute("#question-form", "data-question-id")
        assert qid, "a question without an id"
        if qid == until:
            return asked
        asked.append(qid)
        state = answers.get(qid, default)
        options = page.eval_on_selector_all("#answers input", "els => els.map(e => e.value)")
        if state not in options:  # e.g. a question that only offers yes/no
            state = "absent" if "absent" in options else options[-1]
        page.check(f"#answers input[value={state}]")
        page.click("#question-next")
    raise AssertionError(f"no result after {MAX_STEPS} questions: {asked}")


def read_result(page: Any, asked: list[str] | None = None) -> Outcome:
    page.wait_for_selector(".triage[data-level]")
    level = page.get_attribute(".triage", "data-level")
    rows = page.eval_on_selector_all(
        "table.differential tbody tr",
        "rows => rows.map(r => [r.dataset.cause, r.querySelector('.prob-text').textContent])",
    )
    return Outcome(level=level or "", causes=[(c, p) for c, p in rows], asked=asked or [])


def questionnaire_case(page: Any) -> dict[str, Any]:
    """The case the questionnaire built (kept in sessionStorage)."""
    raw = page.evaluate("() => sessionStorage.getItem('b12dx.questionnaire.v1')")
    state = json.loads(raw)
    assert isinstance(state, dict)
    return state


def percent(text: str) -> float:
    m = re.search(r"([\d.]+)", text)
    assert m, text
    return float(m.group(1))


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


def unlabelled_controls(page: Any) -> list[str]:
    """Visible form controls without an accessible name (label, aria-label or labelledby)."""
    return list(
        page.evaluate("""() => {
      const out = [];
      for (const el of document.querySelectorAll('input, select, textarea, button')) {
        if (el.type === 'hidden' || el.offsetParent === null) continue;
        const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') ||
          el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim());
        if (!named) out.push(el.outerHTML.slice(0, 120));
      }
      return out;
    }""")
    )


def save_shot(page: Any, shots: Path | None, name: str, *, full_page: bool = True) -> None:
    if shots is not None:
        page.screenshot(path=str(shots / name), full_page=full_page)


def low_contrast_text(page: Any) -> list[str]:
    """Visible text whose contrast with its background is below WCAG 2.1 AA."""
    script = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")
    return list(page.evaluate(script))
