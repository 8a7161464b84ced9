"""A medicine in more than one drug class (``also`` in medications.toml).

Verapamil and diltiazem are calcium-channel blockers and also moderate CYP3A4 inhibitors (MHRA
2012 simvastatin dose cap); amlodipine, a weak inhibitor, is not (docs/decisions.md, "Medicines
in more than one class"). Trimethoprim is a new class for hyperkalaemia. Every front end — the
case JSON and CLI, FHIR, free text, the screening table and CDS Hooks — expands a medicine to
all its classes in the same way.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from b12dx import assess
from b12dx.case import (
    Medication,
    find_medication,
    medication_classes,
    normalise,
    parse_case,
)
from b12dx.errors import KnowledgeBaseError
from b12dx.fhir import case_from_fhir
from b12dx.kb import KnowledgeBase, load_kb
from b12dx.nlp import parse_text
from case_support import cause_of as _cause
from case_support import male_case as _case
from case_support import odds as _odds
from case_support import triage_rules as _rules

CCB = "calcium_channel_blocker"
MODERATE = "moderate_cyp3a4_inhibitor"
STATIN_RULES = {
    "statin_with_moderate_cyp3a4_inhibitor_muscle_symptoms",
    "statin_with_moderate_cyp3a4_inhibitor_raised_ck",
}
LEVELS = ["self_care", "consultation", "consultation_24", "emergency", "emergency_ambulance"]
CK_RAISED = {"test": "ck", "value": 1000, "unit": "U/L"}
KNOWLEDGE = Path(__file__).resolve().parents[1] / "src" / "b12dx" / "knowledge"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _summary(a: Any) -> tuple[dict[str, float], str, list[str | None]]:
    return (
        {c.id: round(c.probability, 12) for c in a.differential},
        a.triage.level,
        sorted(r.rule for r in a.triage.reasons if r.rule),
    )


# ------------------------------------------------------------------ the mapping ---
@pytest.mark.parametrize(
    ("med", "classes"),
    [
        (Medication(name="verapamil"), (CCB, MODERATE)),
        (Medication(name="Securon"), (CCB, MODERATE)),
        (Medication(name="verapamil 120 mg m/r tablets"), (CCB, MODERATE)),
        (Medication(name="diltiazem"), (CCB, MODERATE)),
        (Medication(name="Tildiem"), (CCB, MODERATE)),
        (Medication(name="amlodipine"), (CCB,)),  # a weak inhibitor: not counted
        (Medication(name="nifedipine"), (CCB,)),
        (Medication(name="fluconazole"), (MODERATE,)),
        (Medication(name="trimethoprim"), ("trimethoprim",)),
        (Medication(name="Septrin"), ("trimethoprim",)),
        # by class alone: that class only
        (Medication(drug_class=CCB), (CCB,)),
        # by class and name: the given class first, the medicine's other classes after it
        (Medication(name="verapamil", drug_class=CCB), (CCB, MODERATE)),
        (Medication(name="verapamil", drug_class=MODERATE), (MODERATE, CCB)),
        # a name of another class does not add classes to the one given
        (Medication(name="omeprazole", drug_class=CCB), (CCB,)),
        (Medication(name="no such medicine"), None),
    ],
)
def test_medication_classes(
    med: Medication, classes: tuple[str, ...] | None, kb: KnowledgeBase
) -> None:
    assert medication_classes(med, kb) == classes
    # the single-class API keeps answering with the primary (or given) class
    assert find_medication(med, kb) == (classes[0] if classes else None)


def test_kb_accessor_lists_primary_first(kb: KnowledgeBase) -> None:
    assert kb.classes_of_drug["verapamil"] == (CCB, MODERATE)
    assert kb.classes_of_drug["amlodipine"] == (CCB,)
    assert kb.classes_of_drug["simvastatin"] == ("statin",)


def test_normalise_lists_a_medicine_once_per_class(kb: KnowledgeBase) -> None:
    case = parse_case(
        {
            "age": 70,
            "sex": "male",
            "medications": [
                {"name": "nifedipine", "years": 5},
                {"name": "verapamil", "years": 2},
                {"name": "fluconazole"},
            ],
        }
    )
    norm = normalise(case, kb)
    got = [(m.name, m.drug_class, m.years) for m in norm.medications]
    # nifedipine holds the calcium-channel-blocker entry (longer exposure kept); verapamil adds
    # the moderate-inhibitor entry, which fluconazole then joins
    assert got == [("nifedipine", CCB, 5), ("verapamil", MODERATE, 2)]
    # a normalised case normalises to itself
    assert normalise(norm, kb) == norm


# ------------------------------------------------------------------ the effects ---
@pytest.mark.parametrize("inhibitor", ["verapamil", "diltiazem"])
def test_verapamil_with_a_statin_acts_like_fluconazole(inhibitor: str, kb: KnowledgeBase) -> None:
    statin = _cause(assess(_case("proximal_muscle_aching", meds=("simvastatin",)), kb=kb),
                    "statin_myopathy")  # fmt: skip
    with_ccb = _cause(
        assess(_case("proximal_muscle_aching", meds=("simvastatin", inhibitor)), kb=kb),
        "statin_myopathy",
    )
    with_flu = _cause(
        assess(_case("proximal_muscle_aching", meds=("simvastatin", "fluconazole")), kb=kb),
        "statin_myopathy",
    )
    [moderate] = kb.drug_class_by_id[MODERATE].effects
    assert math.isclose(_odds(with_ccb.prior) / _odds(statin.prior), moderate.value, rel_tol=1e-9)
    assert with_ccb.prior == pytest.approx(with_flu.prior, rel=1e-12)
    assert with_ccb.probability > statin.probability


def test_amlodipine_with_a_statin_is_unchanged(kb: KnowledgeBase) -> None:
    statin = assess(_case("proximal_muscle_aching", meds=("simvastatin",)), kb=kb)
    both = assess(_case("proximal_muscle_aching", meds=("simvastatin", "amlodipine")), kb=kb)
    assert _cause(both, "statin_myopathy").prior == pytest.approx(
        _cause(statin, "statin_myopathy").prior, rel=1e-12
    )


def test_verapamil_alone_is_just_a_calcium_channel_blocker(kb: KnowledgeBase) -> None:
    """Without a statin the moderate-inhibitor class changes nothing: verapamil alone gives
    what nifedipine alone gives."""
    vera = assess(_case("muscle_cramps", "nocturnal_leg_cramps", meds=("verapamil",)), kb=kb)
    nif = assess(_case("muscle_cramps", "nocturnal_leg_cramps", meds=("nifedipine",)), kb=kb)
    assert "statin_myopathy" not in {c.id for c in vera.differential}
    assert _summary(vera) == _summary(nif)


# ------------------------------------------------------------------ triage and notes ---
@pytest.mark.parametrize("inhibitor", ["verapamil", "diltiazem", "Securon"])
def test_statin_rules_fire_for_verapamil_and_diltiazem(inhibitor: str, kb: KnowledgeBase) -> None:
    a = assess(_case("muscle_weakness", meds=("simvastatin", inhibitor)), kb=kb)
    assert "statin_with_moderate_cyp3a4_inhibitor_muscle_symptoms" in _rules(a)
    assert LEVELS.index(a.triage.level) >= LEVELS.index("consultation_24")
    ck = assess(_case("fatigue", meds=("atorvastatin", inhibitor), labs=(CK_RAISED,)), kb=kb)
    assert "statin_with_moderate_cyp3a4_inhibitor_raised_ck" in _rules(ck)
    notes = assess(_case("fatigue", meds=("simvastatin", inhibitor)), kb=kb).prevention
    assert "statin_moderate_interaction_check" in {p.id for p in notes}


@pytest.mark.parametrize(
    ("present", "meds"),
    [
        (("muscle_weakness",), ("verapamil",)),  # no statin
        (("muscle_weakness",), ("simvastatin", "amlodipine")),  # a weak inhibitor
        (("muscle_weakness",), ("simvastatin", "nifedipine")),
        (("fatigue",), ("simvastatin", "verapamil")),  # no muscle complaint, no CK
    ],
)
def test_statin_rules_do_not_fire_otherwise(
    present: tuple[str, ...], meds: tuple[str, ...], kb: KnowledgeBase
) -> None:
    assert not STATIN_RULES & _rules(assess(_case(*present, meds=meds), kb=kb))


@pytest.mark.parametrize("meds", [("verapamil",), ("diltiazem",), ("trimethoprim",),
                                  ("simvastatin", "amlodipine")])  # fmt: skip
def test_ordinary_night_cramps_stay_self_care(meds: tuple[str, ...], kb: KnowledgeBase) -> None:
    a = assess(_case("nocturnal_leg_cramps", "relieved_by_stretching", meds=meds, age=50), kb=kb)
    assert a.triage.level == "self_care"


# ------------------------------------------------------------------ trimethoprim ---
def test_trimethoprim_raises_hyperkalaemia(kb: KnowledgeBase) -> None:
    [effect] = kb.drug_class_by_id["trimethoprim"].effects
    assert effect.cause == "hyperkalaemia" and effect.value > 1
    base = assess(_case("muscle_weakness"), kb=kb)
    tmp = assess(_case("muscle_weakness", meds=("trimethoprim",)), kb=kb)
    ratio = _odds(_cause(tmp, "hyperkalaemia").prior) / _odds(_cause(base, "hyperkalaemia").prior)
    assert math.isclose(ratio, effect.value, rel_tol=1e-9)
    high_k = ({"test": "potassium", "value": 5.8, "unit": "mmol/L"},)
    before = assess(_case("muscle_weakness", labs=high_k), kb=kb)
    after = assess(_case("muscle_weakness", meds=("co-trimoxazole",), labs=high_k), kb=kb)
    assert _cause(after, "hyperkalaemia").probability > _cause(before, "hyperkalaemia").probability


# ------------------------------------------------------------------ front ends agree ---
def _cli_assessment(capsys: pytest.CaptureFixture[str], *meds: str) -> dict[str, Any]:
    import json

    from b12dx.cli import main

    args = ["assess", "--age", "70", "--sex", "male", "--finding", "muscle_weakness"]
    for m in meds:
        args += ["--med", m]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--format", "json"])
    assert exit_.value.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def _json_summary(a: dict[str, Any]) -> tuple[dict[str, float], str, list[str | None]]:
    return (
        {c["id"]: round(c["probability"], 12) for c in a["differential"]},
        a["triage"]["level"],
        sorted(r.get("rule") for r in a["triage"]["reasons"] if r.get("rule")),
    )


def test_cli_fhir_and_free_text_agree(
    capsys: pytest.CaptureFixture[str], kb: KnowledgeBase
) -> None:
    cli = _json_summary(_cli_assessment(capsys, "verapamil", "simvastatin"))
    assert "statin_with_moderate_cyp3a4_inhibitor_muscle_symptoms" in cli[2]
    assert cli[0] != _json_summary(_cli_assessment(capsys, "nifedipine", "simvastatin"))[0]

    # FHIR: verapamil by RxNorm-less name and simvastatin, with a muscle-weakness answer
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "gender": "male",
                          "birthDate": "1956-01-01"}},
            {"resource": {"resourceType": "MedicationStatement", "id": "v", "status": "active",
                          "subject": {"reference": "Patient/p"},
                          "medicationCodeableConcept": {"text": "Verapamil 120 mg tablets"}}},
            {"resource": {"resourceType": "MedicationStatement", "id": "s", "status": "active",
                          "subject": {"reference": "Patient/p"},
                          "medicationCodeableConcept": {"text": "Simvastatin 40 mg tablets"}}},
        ],
    }  # fmt: skip
    imported = case_from_fhir(bundle, kb=kb, as_of=__import__("datetime").date(2026, 6, 1))
    classes = [m.drug_class for m in imported.case.medications]
    assert sorted(c for c in classes if c) == sorted([CCB, MODERATE, "statin"])
    fhir_case = imported.case.model_dump(exclude_none=True)
    fhir_case["evidence"] = [{"id": "muscle_weakness"}]
    fhir_case["age"] = 70
    assert _summary(assess(fhir_case, kb=kb)) == cli

    # free text
    parsed = parse_text(
        "I'm a 70 year old man on verapamil and simvastatin, and my legs have gone weak.", kb=kb
    ).case_data()
    assert {str(m.get("name")).lower() for m in parsed["medications"]} == {
        "verapamil",
        "simvastatin",
    }
    text_case = {**parsed, "evidence": [{"id": "muscle_weakness"}], "age": 70, "sex": "male"}
    assert _summary(assess(text_case, kb=kb)) == cli


def test_screening_row_expands_like_assess(kb: KnowledgeBase) -> None:
    import datetime as dt

    import pyarrow as pa

    from b12dx.screen.fhir_bulk import case_row
    from b12dx.screen.kernel import Kernel
    from b12dx.screen.mapping import Mapping
    from b12dx.screen.reader import standardize
    from b12dx.screen.rules import load_rules

    data = _case("muscle_weakness", meds=("verapamil", "simvastatin"))
    data["medications"][0]["years"] = 3
    kernel = Kernel(kb, load_rules(kb))
    row = case_row(parse_case(data), kb, kernel.schema)
    assert row[CCB] is True and row[MODERATE] is True and row["statin"] is True
    assert row[f"{CCB}_years"] == row[f"{MODERATE}_years"] == 3
    table = pa.Table.from_pylist([row], schema=kernel.schema.arrow_schema())
    batch = standardize(table, kernel.schema, Mapping(), start_row=0)
    [got] = kernel.run(batch, as_of=dt.date(2026, 6, 1)).output.to_pylist()
    want = assess(data, kb=kb)
    for c in want.differential:
        assert got[f"p_{c.id}"] == pytest.approx(c.probability, abs=1e-9), c.id
    assert got["triage_level"] == want.triage.level


def test_cds_order_trigger_sees_the_second_class(kb: KnowledgeBase) -> None:
    from b12dx.service.cds import order_trigger

    def draft(text: str) -> dict[str, Any]:
        return {
            "selections": ["MedicationRequest/m"],
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "m",
                                        "status": "draft", "intent": "order",
                                        "medicationCodeableConcept": {"text": text}}}],
            },
        }  # fmt: skip

    assert order_trigger(kb, draft("trimethoprim 200 mg tablets")) is not None
    assert order_trigger(kb, draft("nifedipine")) is None


# ------------------------------------------------------------------ validation ---
def _load_edited_medications(tmp_path: Path, old: str, new: str) -> KnowledgeBaseError:
    """The error from loading a copy of the packaged KB whose medications.toml has *old*
    replaced by *new*."""
    folder = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE, folder)
    path = folder / "medications.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as info:
        load_kb(folder, fresh=True)
    return info.value


@pytest.mark.parametrize(
    ("also", "message"),
    [
        ('["no_such_class"]', "unknown drug class 'no_such_class'"),
        ('["calcium_channel_blocker"]', "'calcium_channel_blocker' is the class that lists"),
        ('["statin", "statin"]', "'statin' is named more than once"),
    ],
)
def test_kb_validate_rejects_a_bad_also(also: str, message: str, tmp_path: Path) -> None:
    old = '{ name = "nifedipine", brands = ["Adalat", "Coracten", "Procardia"] }'
    error = _load_edited_medications(tmp_path, old, old[:-2] + f", also = {also} }}")
    issues = [(i.where, i.message) for i in error.issues]
    assert any(
        where == "drug_classes(calcium_channel_blocker).drugs(nifedipine).also" and message in m
        for where, m in issues
    ), issues


def test_kb_validate_rejects_a_medicine_listed_by_two_classes(tmp_path: Path) -> None:
    old = '  { name = "fluconazole", brands = ["Diflucan"], rxnorm = "4450" },'
    error = _load_edited_medications(tmp_path, old, old + '\n  { name = "verapamil" },')
    assert any("name the second class in 'also'" in i.message for i in error.issues)


@pytest.mark.parametrize(
    ("meds", "shown"),
    [
        (("trimethoprim", "ramipril"), True),
        (("Septrin", "spironolactone"), True),
        (("trimethoprim",), False),
        (("ramipril",), False),
    ],
)
def test_trimethoprim_monitoring_note(
    meds: tuple[str, ...], shown: bool, kb: KnowledgeBase
) -> None:
    a = assess(_case("fatigue", meds=meds), kb=kb)
    assert ("trimethoprim_potassium" in {m.id for m in a.monitoring}) is shown


@pytest.mark.parametrize(("meds", "asked"), [(("trimethoprim",), True), ((), False)])
def test_trimethoprim_and_weakness_ask_for_potassium(
    meds: tuple[str, ...], asked: bool, kb: KnowledgeBase
) -> None:
    a = assess(_case("muscle_cramps", "muscle_weakness", meds=meds, age=40), kb=kb)
    assert ("potassium_raising_driver" in {t.rule for t in a.next_tests}) is asked
