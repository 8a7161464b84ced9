"""``GET /v1/kb/...``: the knowledge-base catalogue (ids, names, codes, questions, sources)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ... import __version__
from ..deps import KbDep

__all__ = ["router"]

router = APIRouter(prefix="/v1/kb", tags=["kb"])


class CodesOut(BaseModel):
    snomed: str | None = None
    icd10: str | None = None
    loinc: str | None = None
    rxnorm: str | None = None


class FindingOut(BaseModel):
    id: str
    name: str
    lay_name: str
    kind: str  # finding kind, or "risk_factor"
    category: str | None = None  # risk-factor category
    synonyms: list[str]
    codes: CodesOut
    question: str | None


class CauseOut(BaseModel):
    id: str
    name: str
    lay_name: str
    group: Literal["b12", "electrolyte", "other"]
    description: str
    codes: CodesOut
    sources: list[str]


class UnitOut(BaseModel):
    unit: str
    factor: float


class LabOut(BaseModel):
    id: str
    name: str
    lay_name: str
    loinc: list[str]
    unit: str
    units: list[UnitOut]
    orderable: bool
    why: str | None
    sources: list[str]


class DrugOut(BaseModel):
    name: str
    brands: list[str]
    rxnorm: str | None
    also: list[str] = Field(
        default_factory=list,
        description="Further drug classes of this medicine (the listing class is its primary one)",
    )


class MedicationOut(BaseModel):
    id: str
    name: str
    lay_name: str
    drugs: list[DrugOut]
    sources: list[str]


class SourceOut(BaseModel):
    id: str
    title: str
    body: str
    year: int | None
    url: str
    kind: str


class VersionOut(BaseModel):
    kb_version: str
    kb_sha256: str
    b12dx_version: str


@router.get(
    "/findings",
    response_model=list[FindingOut],
    summary="Findings (symptoms, signs, red flags) and risk factors",
)
def findings(kb: KbDep) -> list[FindingOut]:
    out = [
        FindingOut(
            id=f.id,
            name=f.name,
            lay_name=f.lay_name,
            kind=f.kind,
            synonyms=list(f.synonyms),
            codes=CodesOut(**f.codes.model_dump()),
            question=f.question,
        )
        for f in kb.findings
        if f.kind != "lab"
    ]
    out += [
        FindingOut(
            id=r.id,
            name=r.name,
            lay_name=r.lay_name,
            kind="risk_factor",
            category=r.category,
            synonyms=list(r.synonyms),
            codes=CodesOut(**r.codes.model_dump()),
            question=r.question,
        )
        for r in kb.risk_factors
    ]
    return out


@router.get("/causes", response_model=list[CauseOut], summary="Causes in the differential")
def causes(kb: KbDep) -> list[CauseOut]:
    return [
        CauseOut(
            id=c.id,
            name=c.name,
            lay_name=c.lay_name,
            group=c.group,
            description=c.description,
            codes=CodesOut(**c.codes.model_dump()),
            sources=list(c.sources),
        )
        for c in kb.causes
    ]


@router.get("/labs", response_model=list[LabOut], summary="Lab tests, LOINC codes and units")
def labs(kb: KbDep) -> list[LabOut]:
    return [
        LabOut(
            id=t.id,
            name=t.name,
            lay_name=t.lay_name,
            loinc=list(t.loinc),
            unit=t.unit,
            units=[UnitOut(unit=u.unit, factor=u.value) for u in t.units],
            orderable=t.orderable,
            why=t.why,
            sources=list(t.sources),
        )
        for t in kb.labs
    ]


@router.get(
    "/medications",
    response_model=list[MedicationOut],
    summary="Drug classes with their drugs, brands and RxNorm codes",
)
def medications(kb: KbDep) -> list[MedicationOut]:
    return [
        MedicationOut(
            id=d.id,
            name=d.name,
            lay_name=d.lay_name,
            drugs=[
                DrugOut(name=x.name, brands=list(x.brands), rxnorm=x.rxnorm, also=list(x.also))
                for x in d.drugs
            ],
            sources=list(d.sources),
        )
        for d in kb.drug_classes
    ]


@router.get("/sources", response_model=list[SourceOut], summary="Every source the KB cites")
def sources(kb: KbDep) -> list[SourceOut]:
    return [
        SourceOut(id=s.id, title=s.title, body=s.body, year=s.year, url=s.url, kind=s.kind)
        for s in kb.sources
    ]


@router.get("/version", response_model=VersionOut, summary="KB version and content hash")
def version(kb: KbDep) -> VersionOut:
    return VersionOut(kb_version=kb.version, kb_sha256=kb.sha256, b12dx_version=__version__)
