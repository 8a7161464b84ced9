"""The clinician form as typed, and its round trip to a Case and back.

The form is kept as strings, so that whatever was typed can always be shown again unchanged;
``to_data()`` builds plain case data from it (blank rows skipped), and ``field_for()`` maps an
error's location in the case (``labs[0].value``) back to the form field it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ....case import Case

__all__ = ["FormState", "case_from_state", "fmt_number"]

_MAX_ROWS = 200  # rows per group accepted from one form
_LOINC = re.compile(r"^\d{1,7}-\d$")


def fmt_number(x: float | None) -> str:
    """A number as a person would type it (no trailing zeros)."""
    return "" if x is None else f"{x:g}"


_ROW = re.compile(r"^(findings|meds|labs)-(\d{1,3})-(\w+)$")


@dataclass
class FormState:
    """The clinician form as typed: strings only, so it can always be shown again unchanged."""

    age: str = ""
    sex: str = ""
    pregnant: bool = False
    findings: list[dict[str, str]] = field(default_factory=list)
    meds: list[dict[str, str]] = field(default_factory=list)
    labs: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # field id -> message
    general_errors: list[str] = field(default_factory=list)
    # case list index -> form row index (blank rows are skipped when the case is built)
    _map: dict[str, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> FormState:
        rows: dict[str, dict[int, dict[str, str]]] = {"findings": {}, "meds": {}, "labs": {}}
        for key, value in form.items():
            m = _ROW.match(key)
            if m and isinstance(value, str):
                group, idx, name = m.group(1), int(m.group(2)), m.group(3)
                if idx < _MAX_ROWS:
                    rows[group].setdefault(idx, {})[name] = value.strip()

        def ordered(group: str) -> list[dict[str, str]]:
            return [rows[group][i] for i in sorted(rows[group])]

        return cls(
            age=str(form.get("age", "")).strip(),
            sex=str(form.get("sex", "")).strip(),
            pregnant=str(form.get("pregnant", "")) in ("on", "true", "1", "yes"),
            findings=ordered("findings"),
            meds=ordered("meds"),
            labs=ordered("labs"),
        )

    @classmethod
    def from_case(cls, case: Case) -> FormState:
        """A form filled in from a case (a FHIR Bundle or a launch context)."""
        state = cls(
            age=f"{case.age:g}",
            sex=case.sex,
            pregnant=case.pregnant,
            findings=[{"id": e.id, "state": e.state} for e in case.evidence],
            meds=[
                {
                    "name": m.name or m.rxnorm or m.drug_class or "",
                    "years": "" if m.years is None else f"{m.years:g}",
                }
                for m in case.medications
            ],
            labs=[
                {
                    "test": lab.test or lab.loinc or "",
                    "value": fmt_number(
                        lab.value if lab.original_value is None else lab.original_value
                    ),
                    "unit": lab.original_unit or lab.unit,
                }
                for lab in case.labs
            ],
        )
        state._map = {
            "evidence": {i: i for i in range(len(case.evidence))},
            "medications": {i: i for i in range(len(case.medications))},
            "labs": {i: i for i in range(len(case.labs))},
        }
        return state

    def to_data(self) -> dict[str, Any]:
        """The case as plain data; blank rows are skipped and remembered for error mapping."""
        data: dict[str, Any] = {"sex": self.sex or None, "pregnant": self.pregnant}
        data["age"] = self.age if self.age else None
        self._map = {"evidence": {}, "medications": {}, "labs": {}}
        evidence: list[dict[str, Any]] = []
        for i, row in enumerate(self.findings):
            if row.get("id"):
                self._map["evidence"][len(evidence)] = i
                evidence.append({"id": row["id"], "state": row.get("state") or "present"})
        meds: list[dict[str, Any]] = []
        for i, row in enumerate(self.meds):
            if row.get("name"):
                self._map["medications"][len(meds)] = i
                name = row["name"]
                # a bare number is an RxNorm ingredient code (as FHIR data often give)
                med: dict[str, Any] = {"rxnorm": name} if name.isdigit() else {"name": name}
                if row.get("years"):
                    med["years"] = row["years"]
                meds.append(med)
        labs: list[dict[str, Any]] = []
        for i, row in enumerate(self.labs):
            if row.get("test") and row.get("value"):
                self._map["labs"][len(labs)] = i
                # a LOINC code (as FHIR data give) where the form would have a test id
                key = "loinc" if _LOINC.match(row["test"]) else "test"
                labs.append({key: row["test"], "value": row["value"], "unit": row.get("unit", "")})
            elif row.get("value") and not row.get("test"):
                self.errors[f"labs-{i}-test"] = "choose the test this value belongs to"
        data.update(evidence=evidence, medications=meds, labs=labs)
        return data

    def field_for(self, where: str | None) -> str | None:
        """The form field id for an error location such as ``labs[2].value`` or ``age``."""
        if not where:
            return None
        m = re.match(r"^(evidence|medications|labs)[\[.](\d+)\]?(?:\.(\w+))?", where)
        if m is None:
            top = where.split(".")[0].split("[")[0]
            return top if top in ("age", "sex", "pregnant") else None
        group, idx, sub = m.group(1), int(m.group(2)), m.group(3)
        row = self._map.get(group, {}).get(idx)
        if row is None:
            return None
        if group == "evidence":
            return f"findings-{row}-id"
        if group == "medications":
            return f"meds-{row}-{'years' if sub == 'years' else 'name'}"
        return f"labs-{row}-{sub if sub in ('value', 'unit') else 'test'}"

    def add_error(self, where: str | None, message: str) -> None:
        target = self.field_for(where)
        if target is None:
            self.general_errors.append(f"{where}: {message}" if where else message)
        else:
            self.errors.setdefault(target, message)


def case_from_state(state: FormState) -> Case | None:
    """Validate the form into a Case, recording every problem next to its field."""
    data = state.to_data()
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
            where = where.replace(".[", "[")
            msg = err["msg"]
            if loc and loc[-1] == "sex":
                msg = "choose female or male"
            elif loc and loc[-1] == "age" and data.get("age") is None:
                msg = "enter the person's age in years"
            state.add_error(where, msg)
        return None
    return None if state.errors else case
