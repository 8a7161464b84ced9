"""The clinician view in Chromium: the form, units, FHIR upload, errors, downloads, launch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_steps import (
    low_contrast_text,
    no_horizontal_scroll,
    percent,
    save_shot,
    unlabelled_controls,
)

FIXTURES = Path(__file__).parent / "fixtures"


def add_finding(page: Any, typed: str, finding_id: str, state: str = "present") -> None:
    """Add a finding with the keyboard, the way a clinician in a hurry does."""
    page.fill("#finding-search", "")
    page.type("#finding-search", typed)
    option = page.locator(f"#finding-options [data-id={finding_id}]")
    option.wait_for()
    # arrow down to the option, then Enter
    for _ in range(12):
        if option.get_attribute("aria-selected") == "true":
            break
        page.press("#finding-search", "ArrowDown")
    page.press("#finding-search", "Enter")
    row = page.locator(f"tr.finding-row[data-id={finding_id}]")
    row.wait_for()
    row.locator(f"input[value={state}]").check()


def fill_patient(page: Any, *, age: int = 58, sex: str = "female") -> None:
    page.goto("/clinician")
    page.fill("#age", str(age))
    page.select_option("#sex", sex)
    add_finding(page, "pins and needles", "paresthesia_feet")
    add_finding(page, "tired", "fatigue")
    add_finding(page, "calf swel", "unilateral_calf_swelling", "absent")
    page.fill("#meds-0-name", "metformin")
    page.fill("#meds-0-years", "7")


def set_lab(page: Any, row: int, test: str, value: str, unit: str) -> None:
    if page.locator(f"#labs-{row}-test").count() == 0:
        page.click("#add-lab")
    page.select_option(f"#labs-{row}-test", test)
    page.select_option(f"#labs-{row}-unit", unit)
    page.fill(f"#labs-{row}-value", value)


def differential(page: Any) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in page.eval_on_selector_all(
            "#result table.differential tbody tr",
            "rows => rows.map(r => [r.dataset.cause, r.querySelector('.prob-text').textContent])",
        )
    ]


def test_b12_in_pg_per_ml_and_pmol_per_l_give_the_same_result(
    page: Any, shots: Path | None
) -> None:
    fill_patient(page)
    assert unlabelled_controls(page) == []
    set_lab(page, 0, "b12_total", "150", "pg/mL")
    save_shot(page, shots, "clinician-form.png")
    page.click("#assess")
    page.wait_for_selector("#result")
    in_mass = differential(page)
    band_mass = page.get_attribute("#result tr[data-test=b12_total] .band", "data-band")
    assert in_mass[0][0] == "b12_deficiency", in_mass
    page.evaluate("() => document.getElementById('result').scrollIntoView()")
    save_shot(page, shots, "clinician-result.png", full_page=False)

    # the form came back filled in: change only the value and the unit
    assert page.input_value("#age") == "58"
    assert page.locator("tr.finding-row").count() == 3
    page.select_option("#labs-0-unit", "pmol/L")
    page.fill("#labs-0-value", "110.7")  # 150 pg/mL x 0.738
    page.click("#assess")
    page.wait_for_selector("#result")
    assert differential(page) == in_mass
    assert page.get_attribute("#result tr[data-test=b12_total] .band", "data-band") == band_mass
    entered = page.inner_text("#result tr[data-test=b12_total] td.num")
    assert "110.7 pmol/L" in entered or "110.7" in entered


def test_the_result_has_every_section(page: Any) -> None:
    fill_patient(page)
    set_lab(page, 0, "b12_total", "150", "pg/mL")
    page.click("#assess")
    page.wait_for_selector("#result")
    for title in (
        "Differential",
        "Explanation per cause",
        "Lab results and guideline bands",
        "Next tests",
        "Sources",
    ):
        assert page.locator("#result h2", has_text=title).count() == 1, title
    # the chart is a table with a caption: screen readers get names and numbers
    assert page.locator("#result table.differential caption").inner_text()
    assert page.locator("#result svg.bar[aria-hidden=true]").count() >= 3
    # every source has a link
    links = page.eval_on_selector_all("#result .sources a", "as => as.map(a => a.href)")
    assert links and all(h.startswith("http") for h in links)
    assert low_contrast_text(page) == []
    top = percent(page.inner_text("#result table.differential tbody tr .prob-text"))
    assert 0 < top <= 100
    # printed, the report is the result alone
    page.emulate_media(media="print")
    assert not page.is_visible("#case-form")
    assert not page.is_visible("#download-json")
    assert page.is_visible("#result .triage")
    assert page.pdf(format="A4").startswith(b"%PDF")
    page.emulate_media(media="screen")


def test_downloads_json_and_fhir(page: Any) -> None:
    fill_patient(page)
    set_lab(page, 0, "b12_total", "150", "pg/mL")
    page.click("#assess")
    page.wait_for_selector("#result")
    with page.expect_download() as info:
        page.click("#download-json")
    data = json.loads(Path(info.value.path()).read_text())
    assert data["schema"] == "b12dx/assessment/v1"
    assert data["differential"][0]["id"] == "b12_deficiency"
    with page.expect_download() as info:
        page.click("#download-fhir")
    bundle = json.loads(Path(info.value.path()).read_text())
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "RiskAssessment" in kinds


def test_invalid_lab_value_shows_its_error_and_keeps_everything(
    page: Any, shots: Path | None
) -> None:
    fill_patient(page)
    set_lab(page, 0, "b12_total", "150", "pg/mL")
    set_lab(page, 1, "potassium", "95", "mmol/L")  # not a living person's potassium
    page.click("#assess")
    error = page.locator("#labs-1-value-error")
    error.wait_for()
    assert "implausible" in error.inner_text() or "plausible" in error.inner_text()
    assert page.get_attribute("#labs-1-value", "aria-invalid") == "true"
    # the error summary has focus and links to the field
    assert page.evaluate("() => document.activeElement.id") == "error-summary"
    page.click("#error-summary a[href='#labs-1-value']")
    # nothing typed is lost
    assert page.input_value("#age") == "58"
    assert page.input_value("#sex") == "female"
    assert page.locator("tr.finding-row").count() == 3
    assert page.is_checked("tr.finding-row[data-id=unilateral_calf_swelling] input[value=absent]")
    assert page.input_value("#meds-0-name") == "metformin"
    assert page.input_value("#meds-0-years") == "7"
    assert page.input_value("#labs-0-value") == "150"
    assert page.input_value("#labs-1-value") == "95"
    assert page.input_value("#labs-1-unit") == "mmol/L"
    assert page.locator("#result").count() == 0
    assert low_contrast_text(page) == []
    save_shot(page, shots, "clinician-error.png", full_page=False)
    # fix it and the case is assessed
    page.fill("#labs-1-value", "4.1")
    page.click("#assess")
    page.wait_for_selector("#result")


def test_fhir_bundle_upload(page: Any) -> None:
    page.goto("/clinician")
    page.click(".fhir-box summary")
    page.set_input_files("#fhir-file", str(FIXTURES / "b12_bundle.json"))
    page.click("#fhir-submit")
    page.wait_for_selector("#result")
    # the form shows what was read from the Bundle, for checking and editing
    assert page.input_value("#sex") == "female"
    assert 60 <= float(page.input_value("#age")) <= 70
    assert page.input_value("#labs-0-test") == "b12_total"
    tests = page.eval_on_selector_all("#result tr[data-test]", "rs => rs.map(r => r.dataset.test)")
    assert {"b12_total", "mcv", "potassium"} <= set(tests)
    assert differential(page)[0][0] == "b12_deficiency"
    assert page.get_by_text("Filled in from the FHIR Bundle").is_visible()


def test_fhir_paste_errors_keep_the_text(page: Any) -> None:
    page.goto("/clinician")
    page.click(".fhir-box summary")
    broken = '{"resourceType": "Bundle", "entry": [ oops'
    page.fill("#fhir-bundle", broken)
    page.click("#fhir-submit")
    page.locator("#fhir-bundle-error").wait_for()
    assert "JSON" in page.inner_text("#fhir-bundle-error")
    assert page.input_value("#fhir-bundle") == broken


def test_launch_context_fills_the_form(page: Any, launch_secret: str) -> None:
    """The CDS Hooks card link: /clinician?context=<encrypted, short-lived token>."""
    from b12dx.service.launch import LaunchContext, issue_context

    case = {
        "age": 71,
        "sex": "male",
        "evidence": [{"id": "muscle_cramps"}, {"id": "paresthesia_feet"}],
        "labs": [{"test": "b12_total", "value": 160, "unit": "pg/mL"}],
    }
    token = issue_context(LaunchContext(case=case, patient="Patient/42"), secret=launch_secret)
    page.goto(f"/clinician?context={token}")
    page.wait_for_selector("#result")
    assert page.input_value("#age") == "71"
    assert page.input_value("#sex") == "male"
    assert page.locator("tr.finding-row[data-id=paresthesia_feet]").count() == 1
    assert page.input_value("#labs-0-value") == "160"
    assert page.get_by_text("Patient/42").is_visible()
    # a token signed with another key (or tampered with, or expired) is refused, politely
    forged = issue_context(LaunchContext(case=case), secret="not-the-server-secret-000000")
    page.goto(f"/clinician?context={forged}")
    assert "could not be used" in page.inner_text(".error-summary")
    assert page.locator("#result").count() == 0


@pytest.mark.parametrize("with_result", [False, True])
def test_clinician_at_phone_width(phone: Any, with_result: bool, shots: Path | None) -> None:
    fill_patient(phone)
    set_lab(phone, 0, "b12_total", "150", "pg/mL")
    assert no_horizontal_scroll(phone)
    if with_result:
        phone.click("#assess")
        phone.wait_for_selector("#result")
        assert no_horizontal_scroll(phone)
        phone.evaluate("() => document.getElementById('result').scrollIntoView()")
        save_shot(phone, shots, "phone-clinician-result.png", full_page=False)


def test_clinician_form_works_without_javascript(browser: Any, server: str) -> None:
    """No script at all: pick a finding from a plain list, type a lab, choose its unit."""
    context = browser.new_context(base_url=server, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/clinician")
        page.fill("#age", "58")
        page.select_option("#sex", "female")
        page.select_option("#findings-199-id", "paresthesia_feet")
        page.select_option("#labs-0-test", "b12_total")
        page.select_option("#labs-0-unit", "pg/mL")
        page.fill("#labs-0-value", "150")
        page.click("#assess")
        page.wait_for_selector("#result")
        assert page.locator("tr.finding-row[data-id=paresthesia_feet]").count() == 1
        assert differential(page)[0][0] == "b12_deficiency"
    finally:
        context.close()
