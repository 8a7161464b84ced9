"""Guideline conformance: lab values in every accepted unit land in the band the guideline gives.

The expected bands and the unit factors below were written from the guideline figures collected
in ``shared/knowledge/clinical-evidence.md`` (NICE NG239 table, RCEM potassium grades, Primary
Care Notebook / StatPearls magnesium grades, Society for Endocrinology calcium thresholds, UK
Pathology Harmony ranges, WHO 2024 haemoglobin cut-offs, MCV 80-100 fL, the harmonised adult
creatinine limits with the KDIGO 2012 AKI stage 3 level) and converted with this
file's own arithmetic; they deliberately do not read the knowledge base's numbers. A wrong
threshold, inclusivity or unit factor in ``labs.toml`` therefore fails here. The only thing taken
from the KB is the *name* of each band (``BAND_IDS``).

NG239 gives no numeric MMA or homocysteine cut-offs (it defers to laboratory ranges), so for those
two tests only values that every cited laboratory range classifies the same way are used
(normal MMA <= 0.27 umol/L at its highest cited upper limit, raised >= 0.75 umol/L, above every
cited cut-off; homocysteine normal <= 13 umol/L, raised >= 20 umol/L).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from b12dx.case import LabResult
from b12dx.kb import KnowledgeBase
from b12dx.labs import fold_unit, interpret, normalise_labs

# --- unit factors: value_in_unit * factor = value in the guideline unit (own arithmetic) -------
B12_PMOL = 1.355  # MW 1355 g/mol: 1 pmol/L = 1.355 ng/L
MG_MGDL = 1 / 2.43  # Mg 24.305 g/mol: 1 mmol/L = 2.43 mg/dL
CA_MGDL = 1 / 4.008  # Ca 40.078 g/mol: 1 mmol/L = 4.008 mg/dL
HCY_MGL = 1000 / 135.2  # homocysteine 135.2 g/mol: 1 mg/L = 7.40 umol/L
HB_MMOL = 16.114  # haemoglobin monomer 16,114 g/mol: 1 mmol/L = 16.114 g/L
CREAT_MGDL = 88.4  # creatinine 113.12 g/mol: 1 mg/dL = 10 mg/L = 88.4 umol/L

UNITS: dict[str, dict[str, float]] = {
    "b12_total": {
        "ng/L": 1,
        "ng/l": 1,
        "pg/mL": 1,
        "pg/ml": 1,
        "pmol/L": B12_PMOL,
        "pmol/l": B12_PMOL,
    },
    "b12_active": {"pmol/L": 1, "pmol/l": 1},
    "mma": {"µmol/L": 1, "umol/L": 1, "μmol/L": 1, "umol/l": 1, "nmol/L": 1e-3, "nmol/l": 1e-3},
    "homocysteine": {"µmol/L": 1, "umol/L": 1, "μmol/L": 1, "umol/l": 1, "mg/L": HCY_MGL},
    "potassium": {"mmol/L": 1, "mmol/l": 1, "mEq/L": 1, "meq/L": 1},
    "magnesium": {
        "mmol/L": 1,
        "mmol/l": 1,
        "mEq/L": 0.5,
        "meq/L": 0.5,
        "mg/dL": MG_MGDL,
        "mg/dl": MG_MGDL,
    },
    "calcium_adjusted": {
        "mmol/L": 1,
        "mmol/l": 1,
        "mEq/L": 0.5,
        "mg/dL": CA_MGDL,
        "mg/dl": CA_MGDL,
    },
    "haemoglobin": {"g/L": 1, "g/l": 1, "g/dL": 10, "g/dl": 10, "mmol/L": HB_MMOL},
    "mcv": {"fL": 1, "fl": 1, "um3": 1, "µm3": 1},
    "creatinine": {
        "µmol/L": 1,
        "umol/L": 1,
        "μmol/L": 1,
        "umol/l": 1,
        "mg/dL": CREAT_MGDL,
        "mg/dl": CREAT_MGDL,
    },
}

# --- guideline bands, in the guideline's own unit: (lower, upper, category) with the guideline's
# wording about which end is included ---------------------------------------------------------


@dataclass(frozen=True)
class Band:
    category: str
    lower: float | None
    upper: float | None
    lower_in: bool = True
    upper_in: bool = False

    def contains(self, x: float) -> bool:
        lo = self.lower is None or x > self.lower or (self.lower_in and x == self.lower)
        hi = self.upper is None or x < self.upper or (self.upper_in and x == self.upper)
        return lo and hi


GUIDELINE: dict[str, list[Band]] = {
    # NG239: < 180 deficiency, 180-350 indeterminate, > 350 unlikely (ng/L)
    "b12_total": [
        Band("deficient", None, 180),
        Band("indeterminate", 180, 350, True, True),
        Band("unlikely", 350, None, False),
    ],
    # NG239: < 25, 25-70, > 70 pmol/L
    "b12_active": [
        Band("deficient", None, 25),
        Band("indeterminate", 25, 70, True, True),
        Band("unlikely", 70, None, False),
    ],
    "mma": [Band("normal", None, 0.27, True, True), Band("raised", 0.75, None)],
    "homocysteine": [Band("normal", None, 13, True, True), Band("raised", 20, None)],
    # RCEM: severe < 2.5, moderate 2.5-3.0, mild 3.0-3.5; UK harmonised range 3.5-5.3; UK Kidney
    # Association hyperkalaemia: moderate 6.0-6.4, severe >= 6.5 (whole 0.1 mmol/L steps)
    "potassium": [
        Band("severe", None, 2.5),
        Band("moderate", 2.5, 3.0),
        Band("mild", 3.0, 3.5),
        Band("normal", 3.5, 5.3, True, True),
        Band("high", 5.3, 6.0, False),
        Band("moderate_high", 6.0, 6.5),
        Band("severe_high", 6.5, None),
    ],
    # < 0.4 IV; severe < 0.5; mild 0.5-0.7; UK harmonised 0.7-1.0
    "magnesium": [
        Band("critical", None, 0.4),
        Band("severe", 0.4, 0.5),
        Band("mild", 0.5, 0.7),
        Band("normal", 0.7, 1.0, True, True),
        Band("high", 1.0, None, False),
    ],
    # SfE 2016: < 1.9 severe; range 2.2-2.6
    "calcium_adjusted": [
        Band("severe", None, 1.9),
        Band("low", 1.9, 2.2),
        Band("normal", 2.2, 2.6, True, True),
        Band("high", 2.6, None, False),
    ],
    # MCV 80-100 fL; macrocytosis > 100
    "mcv": [
        Band("microcytic", None, 80),
        Band("normal", 80, 100, True, True),
        Band("macrocytic", 100, None, False),
    ],
}
# WHO 2024: anaemia below 130 g/L (men), 120 g/L (non-pregnant women), 110 g/L (pregnancy);
# WHO severity grading (WHO/NMH/NHD/MNM/11.1, 2011): severe below 80 g/L (men, non-pregnant
# women) and below 70 g/L (pregnancy).
HB_CUTOFF = {("male", False): 130.0, ("female", False): 120.0, ("female", True): 110.0}
HB_SEVERE = {("male", False): 80.0, ("female", False): 80.0, ("female", True): 70.0}
# Creatinine (umol/L): harmonised adult upper limits (AACB/RCPA, Jones 2016) men 110, women 90,
# a value at the limit within it (not raised); KDIGO 2012 AKI table 2, stage 3: "increase in
# serum creatinine to >= 4.0 mg/dL (>= 353.6 umol/L)", inclusive, for both sexes (the
# non-pregnant limits are used in pregnancy).
CREAT_ULN = {"male": 110.0, "female": 90.0}
CREAT_SEVERE_UMOL = 353.6
CREAT_SEVERE_MGDL = 4.0
CREAT_POINTS = [
    40,
    60,
    89,
    90,
    91,
    100,
    109,
    110,
    111,
    160,
    300,
    353,
    353.5,
    353.6,
    354,
    400,
    586,
    900,
]
# Points stated in mg/dL (KDIGO's own figure and just below it), not converted from umol/L.
CREAT_MGDL_POINTS = [
    (1.0, "mg/dL"),
    (2.0, "mg/dl"),
    (3.9, "mg/dL"),
    (3.99, "mg/dL"),
    (4.0, "mg/dL"),
    (4.0, "mg/dl"),
    (4.01, "mg/dL"),
    (6.6, "mg/dl"),
]

# Points (guideline unit) per test: boundaries, just either side, and interior values.
POINTS: dict[str, list[float]] = {
    "b12_total": [60, 120, 150, 179, 179.9, 180, 181, 250, 300, 349, 350, 351, 400, 600, 1322],
    "b12_active": [10, 20, 24.9, 25, 26, 40, 69, 70, 71, 100, 150],
    "mma": [0.08, 0.15, 0.2, 0.27, 0.75, 1.0, 3.3, 10.8],
    "homocysteine": [5, 8, 10, 13, 20, 27.3, 41, 96],
    "potassium": [
        1.5,
        2.0,
        2.4,
        2.49,
        2.5,
        2.7,
        2.99,
        3.0,
        3.2,
        3.49,
        3.5,
        4.2,
        5.0,
        5.3,
        5.31,
        5.99,
        6.0,
        6.49,
        6.5,
        7.62,
    ],
    "magnesium": [0.17, 0.3, 0.39, 0.4, 0.45, 0.49, 0.5, 0.6, 0.69, 0.7, 0.85, 1.0, 1.01, 1.3],
    "calcium_adjusted": [1.3, 1.6, 1.83, 1.89, 1.9, 2.0, 2.19, 2.2, 2.4, 2.6, 2.61, 3.0],
    "mcv": [70, 79.9, 80, 90, 96, 100, 100.1, 105, 112],
}
HB_POINTS = [
    42,
    65,
    69,
    70,
    75,
    79,
    80,
    85,
    104,
    105,
    109,
    110,
    115,
    119,
    120,
    125,
    129,
    130,
    140,
    152,
]

# The KB's names for the guideline categories (names only; no numbers).
BAND_IDS: dict[str, dict[str, str]] = {
    "b12_total": {
        "deficient": "deficiency_likely",
        "indeterminate": "indeterminate",
        "unlikely": "deficiency_unlikely",
    },
    "b12_active": {
        "deficient": "deficiency_likely",
        "indeterminate": "indeterminate",
        "unlikely": "deficiency_unlikely",
    },
    "mma": {"normal": "normal", "raised": "raised"},
    "homocysteine": {"normal": "normal", "raised": "raised"},
    "potassium": {
        "severe": "severe_low",
        "moderate": "moderate_low",
        "mild": "mild_low",
        "normal": "normal",
        "high": "high",
        "moderate_high": "moderate_high",
        "severe_high": "severe_high",
    },
    "magnesium": {
        "critical": "critical_low",
        "severe": "severe_low",
        "mild": "mild_low",
        "normal": "normal",
        "high": "high",
    },
    "calcium_adjusted": {"severe": "severe_low", "low": "low", "normal": "normal", "high": "high"},
    "haemoglobin": {
        f"{grade}/{who}": f"{grade}_{who}"
        for grade in ("severe_anaemia", "anaemia", "normal")
        for who in ("male", "female", "pregnant")
    },
    "mcv": {"microcytic": "microcytic", "normal": "normal", "macrocytic": "macrocytic"},
    "creatinine": {
        f"{grade}/{sex}": f"{grade}_{sex}"
        for grade in ("normal", "raised", "severe")
        for sex in ("male", "female")
    },
}

SEXES = [("male", False), ("female", False), ("female", True)]


@dataclass(frozen=True)
class Row:
    test: str
    value: float  # in `unit`
    unit: str
    sex: str
    pregnant: bool
    category: str

    @property
    def id(self) -> str:
        preg = "-pregnant" if self.pregnant else ""
        return f"{self.test}-{self.value:g}{self.unit}-{self.sex}{preg}"


def _boundaries(test: str) -> list[float]:
    return sorted({b for band in GUIDELINE[test] for b in (band.lower, band.upper) if b})


def _in_unit(x: float, factor: float) -> float:
    return float(f"{x / factor:.6g}")


def _near_boundary(x: float, bounds: list[float]) -> bool:
    # Unit factors are rounded differently in different sources: keep converted values clear of
    # the cut-offs by 1% so that the test checks the band, not the fourth decimal of a factor.
    return any(abs(x - b) <= 0.01 * b for b in bounds)


def _rows() -> list[Row]:
    rows: list[Row] = []
    for test, points in POINTS.items():
        bounds = _boundaries(test)
        for x in points:
            (category,) = [b.category for b in GUIDELINE[test] if b.contains(x)]
            for unit, factor in UNITS[test].items():
                if factor != 1 and _near_boundary(x, bounds):
                    continue
                sex, preg = SEXES[len(rows) % 2]  # these bands do not depend on sex
                rows.append(Row(test, _in_unit(x, factor), unit, sex, preg, category))
    for sex, preg in SEXES:
        cut, severe = HB_CUTOFF[(sex, preg)], HB_SEVERE[(sex, preg)]
        who = "pregnant" if preg else sex
        for x in HB_POINTS:
            grade = "severe_anaemia" if x < severe else "anaemia" if x < cut else "normal"
            category = f"{grade}/{who}"
            for unit, factor in UNITS["haemoglobin"].items():
                if factor != 1 and _near_boundary(x, [cut, severe]):
                    continue
                rows.append(Row("haemoglobin", _in_unit(x, factor), unit, sex, preg, category))
    for sex, preg in SEXES:

        def creat_category(umol: float, mgdl: float | None = None, sex: str = sex) -> str:
            severe = umol >= CREAT_SEVERE_UMOL if mgdl is None else mgdl >= CREAT_SEVERE_MGDL
            grade = "severe" if severe else "raised" if umol > CREAT_ULN[sex] else "normal"
            return f"{grade}/{sex}"

        for x in CREAT_POINTS:
            for unit, factor in UNITS["creatinine"].items():
                if factor != 1 and _near_boundary(x, [CREAT_ULN[sex], CREAT_SEVERE_UMOL]):
                    continue
                rows.append(
                    Row("creatinine", _in_unit(x, factor), unit, sex, preg, creat_category(x))
                )
        for mgdl, unit in CREAT_MGDL_POINTS:
            category = creat_category(mgdl * CREAT_MGDL, mgdl)
            rows.append(Row("creatinine", mgdl, unit, sex, preg, category))
    return rows


ROWS = _rows()

# Albumin adjustment: adjusted Ca = total Ca + 0.02 x (40 - albumin g/L).
ADJUSTED = [  # (total Ca mmol/L, albumin, albumin unit, expected category)
    (2.0, 30, "g/L", "normal"),  # 2.20
    (1.95, 30, "g/L", "low"),  # 2.15
    (1.7, 40, "g/L", "severe"),  # 1.70
    (1.75, 45, "g/L", "severe"),  # 1.65
    (2.5, 45, "g/L", "normal"),  # 2.40
    (2.55, 35, "g/L", "high"),  # 2.65
    (2.1, 2.5, "g/dL", "normal"),  # 2.40
    (1.8, 3.0, "g/dL", "low"),  # 2.00
]


def test_at_least_two_hundred_values() -> None:
    assert len(ROWS) + len(ADJUSTED) >= 200
    assert {r.test for r in ROWS} == set(UNITS)


def _band(
    kb: KnowledgeBase, labs: list[LabResult], test: str, sex: str, pregnant: bool
) -> str | None:
    normalised = normalise_labs(labs, kb, sex=sex, pregnant=pregnant)
    readings = interpret(normalised, kb, sex=sex, pregnant=pregnant)
    (reading,) = [r for r in readings if r.test.id == test]
    return reading.band.id if reading.band is not None else None


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_value_lands_in_the_guideline_band(kb: KnowledgeBase, row: Row) -> None:
    band = _band(
        kb,
        [LabResult(test=row.test, value=row.value, unit=row.unit)],
        row.test,
        row.sex,
        row.pregnant,
    )
    assert band == BAND_IDS[row.test][row.category], (
        f"{row.value} {row.unit} should be {row.category!r} per the guideline"
    )


@pytest.mark.parametrize(("ca", "alb", "alb_unit", "category"), ADJUSTED)
def test_albumin_adjusted_calcium(
    kb: KnowledgeBase, ca: float, alb: float, alb_unit: str, category: str
) -> None:
    labs = [
        LabResult(test="calcium_total", value=ca, unit="mmol/L"),
        LabResult(test="albumin", value=alb, unit=alb_unit),
    ]
    assert (
        _band(kb, labs, "calcium_adjusted", "female", False)
        == BAND_IDS["calcium_adjusted"][category]
    )


@pytest.mark.parametrize("test", sorted(UNITS))
def test_every_unit_the_kb_accepts_is_checked_here(kb: KnowledgeBase, test: str) -> None:
    """A unit the KB accepts but this file has no independent factor for is unverified."""
    accepted = {fold_unit(u.unit) for u in kb.lab_by_id[test].units}
    assert accepted <= {fold_unit(u) for u in UNITS[test]}
