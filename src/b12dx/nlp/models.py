"""What the text parser returns: evidence with its span, phrase and ConText attributes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Context",
    "EvidenceMention",
    "LabMention",
    "MedicationMention",
    "Modifier",
    "ParseResult",
]

State = Literal["present", "absent", "unknown"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Modifier(_Out):
    """A ConText trigger that applies to a mention ("no", "my mother", "if")."""

    category: str
    phrase: str


class Context(_Out):
    """ConText attributes of a mention."""

    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False
    modifiers: tuple[Modifier, ...] = ()


class EvidenceMention(_Out):
    """A finding or risk factor found in the text.

    ``state`` is what the Case gets: ``absent`` for a negated mention, ``unknown`` for a
    hypothetical, uncertain or (other than family history) a relative's mention.
    ``via`` says how the id was reached when it is not the phrase's own: ``family`` (a relative's
    condition became family history), ``combined`` (cramp + "at night"), ``implied``.
    """

    id: str
    state: State
    source: Literal["text"] = "text"
    span: tuple[int, int]
    phrase: str
    context: Context = Context()
    via: Literal["family", "combined", "implied"] | None = None


class MedicationMention(_Out):
    """A medicine by name (``name``, generic) or by class only (``drug_class``: "a statin")."""

    name: str | None = None
    drug_class: str | None = None
    years: float | None = None
    state: State = "present"
    span: tuple[int, int]
    phrase: str
    context: Context = Context()


class LabMention(_Out):
    test: str
    value: float
    unit: str | None = None
    span: tuple[int, int]
    phrase: str


class ParseResult(_Out):
    """Everything understood in one text."""

    evidence: tuple[EvidenceMention, ...] = ()
    medications: tuple[MedicationMention, ...] = ()
    labs: tuple[LabMention, ...] = ()
    age: float | None = None
    sex: Literal["female", "male"] | None = None
    pregnant: bool | None = None

    def final_evidence(self) -> dict[str, str]:
        """One state per id: present beats absent beats unknown; unknown ones are left out."""
        rank = {"present": 2, "absent": 1, "unknown": 0}
        best: dict[str, str] = {}
        for m in self.evidence:
            if m.id not in best or rank[m.state] > rank[best[m.id]]:
                best[m.id] = m.state
        return {k: v for k, v in best.items() if v != "unknown"}

    def case_data(self) -> dict[str, Any]:
        """Plain ``b12dx/case/v1`` data for what was understood (no age/sex unless stated)."""
        out: dict[str, Any] = {}
        if self.age is not None:
            out["age"] = self.age
        if self.sex is not None:
            out["sex"] = self.sex
        if self.pregnant is not None:
            out["pregnant"] = self.pregnant
        out["evidence"] = [
            {"id": i, "state": s, "source": "text"} for i, s in self.final_evidence().items()
        ]
        meds: dict[str, dict[str, Any]] = {}
        for m in self.medications:
            key = m.name or f"class:{m.drug_class}"
            if m.state == "absent":
                # a medicine stopped later in the story is not taken now ("put me on simvastatin
                # ... stopped the simvastatin and gave me pravastatin instead")
                meds.pop(key, None)
                continue
            if m.state != "present":
                continue
            entry = meds.setdefault(
                key, {"name": m.name} if m.name else {"drug_class": m.drug_class}
            )
            if m.years is not None:
                entry["years"] = max(m.years, entry.get("years", 0.0))
        out["medications"] = list(meds.values())
        # one value per test: the last one the text states ("sodium 131 ... fell to 125": 125),
        # the latest in a story told in order, so the Case describes the person now
        labs: dict[str, dict[str, Any]] = {}
        for lab in sorted(self.labs, key=lambda one: one.span[0]):
            if lab.unit is not None:
                labs.pop(lab.test, None)
                labs[lab.test] = {"test": lab.test, "value": lab.value, "unit": lab.unit}
        out["labs"] = list(labs.values())
        return out
