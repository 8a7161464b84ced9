"""The knowledge base: its file format, loader and cross-reference validator.

The KB is package data (``b12dx/knowledge/*.toml``). This module only describes and checks it;
every clinical number lives in those files with its sources, evidence level and, for estimates,
a rationale. ``load_kb()`` parses and validates once and caches the result.
"""

from __future__ import annotations

import hashlib
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import Issue, KnowledgeBaseError

__all__ = [
    "KB_FILES",
    "Band",
    "Cause",
    "Condition",
    "DrugClass",
    "Effect",
    "Finding",
    "KnowledgeBase",
    "LabTest",
    "Num",
    "Source",
    "load_kb",
    "validate",
]

EvidenceLevel = Literal["guideline", "study", "review", "label", "derived", "estimate"]
TriageLevel = Literal[
    "emergency_ambulance", "emergency", "consultation_24", "consultation", "self_care"
]
CauseGroup = Literal["b12", "electrolyte", "other"]
FindingKind = Literal["symptom", "sign", "time_course", "trigger", "red_flag", "lab"]
RiskCategory = Literal["diet", "surgery", "condition", "habit", "exposure", "history"]
Route = Literal["intramuscular", "oral", "intravenous", "none"]

# The files that make up the KB, in load order; the content hash covers exactly these.
KB_FILES = (
    "kb.toml",
    "sources.toml",
    "causes.toml",
    "findings.toml",
    "risk_factors.toml",
    "medications.toml",
    "links.toml",
    "labs.toml",
    "triage.toml",
    "plan.toml",
    "followup.toml",
)


class _Model(BaseModel):
    # defer_build: the validators are built on the first load, once for the whole tree, instead
    # of once per class at import (about 15 ms off every process start, 5 ms onto the load).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Provenance(_Model):
    """Where a fact comes from."""

    sources: tuple[str, ...] = Field(min_length=1)
    evidence: EvidenceLevel
    rationale: str | None = None

    @model_validator(mode="after")
    def _estimate_needs_rationale(self) -> Provenance:
        if self.evidence == "estimate" and not (self.rationale and self.rationale.strip()):
            raise ValueError("an estimate needs a one-line rationale")
        return self


class Num(Provenance):
    """A number with its provenance."""

    value: float


class Codes(_Model):
    snomed: str | None = None
    icd10: str | None = None
    loinc: str | None = None
    rxnorm: str | None = None


class Source(_Model):
    id: str
    title: str
    body: str
    year: int | None = None
    url: str
    kind: Literal["guideline", "study", "review", "label", "summary", "reference", "seed"]
    note: str | None = None


class PriorEntry(Num):
    """Base prior for people matching the filters (first matching entry wins)."""

    age_from: float | None = None  # inclusive
    age_to: float | None = None  # exclusive
    sex: Literal["any", "female", "male"] = "any"
    pregnant: bool | None = None


class Cause(_Model):
    id: str
    name: str
    lay_name: str
    group: CauseGroup
    description: str
    lay_description: str
    codes: Codes = Codes()
    prior: tuple[PriorEntry, ...] = Field(min_length=1)
    # The prior is zero unless one of these evidence ids (risk factor or drug class) is present.
    requires_any: tuple[str, ...] = ()
    # A medical review that confirms this cause: shown in next steps.
    confirm_with: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class Finding(_Model):
    id: str
    name: str
    lay_name: str
    kind: FindingKind
    synonyms: tuple[str, ...] = ()
    codes: Codes = Codes()
    tags: tuple[str, ...] = ()
    question: str | None = None  # plain-language question for the interview
    leak: Num
    aliases: tuple[str, ...] = ()  # former ids, still accepted


class Effect(Num):
    """An odds ratio applied to a cause's prior when the risk factor or drug is present."""

    cause: str
    per_year: bool = False  # value is the odds ratio per year of exposure
    min_years: float | None = None  # applies only at or above this exposure
    cap_years: float | None = None  # per-year effects stop growing here
    default_years: float | None = None  # exposure assumed when the duration is not given


class RiskFactor(_Model):
    id: str
    name: str
    lay_name: str
    category: RiskCategory
    synonyms: tuple[str, ...] = ()
    codes: Codes = Codes()
    tags: tuple[str, ...] = ()
    question: str | None = None
    effects: tuple[Effect, ...] = ()
    aliases: tuple[str, ...] = ()


class Drug(_Model):
    name: str
    brands: tuple[str, ...] = ()
    rxnorm: str | None = None
    # further classes this medicine also belongs to (e.g. verapamil, a calcium-channel blocker,
    # is also a moderate CYP3A4 inhibitor); the class that lists it is its primary class
    also: tuple[str, ...] = ()


class DrugClass(_Model):
    id: str
    name: str
    lay_name: str
    drugs: tuple[Drug, ...] = Field(min_length=1)
    tags: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()
    note: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class Link(Num):
    """P(finding present | this cause alone present): a noisy-OR link strength."""

    cause: str
    finding: str


class Unit(Num):
    """An accepted spelling of a unit; canonical value = value_in_this_unit * factor (``value``)."""

    unit: str


class Band(Provenance):
    id: str
    label: str  # short human label, e.g. "deficiency likely"
    text: str  # what it means, in a sentence
    lower: float | None = None
    lower_inclusive: bool = True
    upper: float | None = None
    upper_inclusive: bool = False
    sex: Literal["any", "female", "male"] = "any"
    pregnant: bool | None = None
    finding: str | None = None  # the noisy-OR lab finding this band sets present
    # findings of milder thresholds on the same side that this band also sets present
    # (graded bands of one quantity are cumulative: a very low value is below every milder cut-off)
    implies: tuple[str, ...] = ()
    abnormal: bool = False
    fixed: bool = False  # a local reference range never overrides this band

    def present(self) -> tuple[str, ...]:
        """The findings this band sets present: its own finding, then the implied ones."""
        if self.finding is None:
            return ()
        return (self.finding, *(f for f in self.implies if f != self.finding))

    def applies_to(self, sex: str, pregnant: bool | None) -> bool:
        """Whether this band is one of the person's bands (by sex and pregnancy)."""
        return self.sex in ("any", sex) and (self.pregnant is None or self.pregnant == pregnant)

    def contains(self, value: float) -> bool:
        if self.lower is not None and (
            value < self.lower or (value == self.lower and not self.lower_inclusive)
        ):
            return False
        return not (
            self.upper is not None
            and (value > self.upper or (value == self.upper and not self.upper_inclusive))
        )


class LocalRange(_Model):
    """Which band a value falls in relative to the reporting lab's own reference range."""

    below: str
    within: str
    above: str


class Derivation(_Model):
    """A test computed from others (albumin-adjusted calcium)."""

    formula: Literal["albumin_adjusted_calcium"]
    inputs: tuple[str, ...]
    params: dict[str, Num]


class LabTest(_Model):
    id: str
    name: str
    lay_name: str
    loinc: tuple[str, ...] = ()
    unit: str  # canonical unit: bands are written in it
    units: tuple[Unit, ...] = Field(min_length=1)
    plausible_low: Num
    plausible_high: Num
    bands: tuple[Band, ...] = ()
    local_range: LocalRange | None = None
    orderable: bool = True
    derived: Derivation | None = None
    synonyms: tuple[str, ...] = ()
    why: str | None = None  # why one would order it, in a sentence
    sources: tuple[str, ...] = Field(min_length=1)


class LabCondition(_Model):
    test: str
    bands: tuple[str, ...] = Field(min_length=1)


class CauseCondition(_Model):
    cause: str
    min_probability: Num


class Condition(_Model):
    """A conjunction: every non-empty part must hold.

    Evidence ids cover findings, risk factors and drug classes; "present" means stated present
    in the case (drug classes: being taken).
    """

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    labs_any: tuple[LabCondition, ...] = ()  # at least one test:bands pair matches
    labs_all: tuple[LabCondition, ...] = ()  # every test:bands pair matches
    labs_missing: tuple[str, ...] = ()
    labs_present: tuple[str, ...] = ()
    causes_any: tuple[CauseCondition, ...] = ()
    top_cause_in: tuple[str, ...] = ()
    pregnant: bool | None = None
    age_at_least: Num | None = None


class RedFlag(Provenance):
    id: str
    level: TriageLevel
    when: Condition
    reason: str
    action: str


class ProbabilityRule(Provenance):
    id: str
    cause: str
    min_probability: Num
    level: TriageLevel
    reason: str


class SelfCare(Provenance):
    """When the default level may drop to self_care (``when``: a condition that must also hold)."""

    causes: tuple[str, ...]
    when: Condition | None = None
    max_other_probability: Num
    default_level: TriageLevel
    reason: str


class Triage(_Model):
    red_flags: tuple[RedFlag, ...]
    probability_rules: tuple[ProbabilityRule, ...]
    self_care: SelfCare


class TestRule(Provenance):
    id: str
    when: Condition
    tests: tuple[str, ...] = Field(min_length=1)
    why: str
    priority: int = 1  # lower comes first


class TreatmentOption(Provenance):
    id: str
    when: Condition = Condition()
    route: Route
    regimen: str
    why: str
    lifelong: bool = False
    warnings: tuple[str, ...] = ()
    monitoring: tuple[str, ...] = ()


class Treatment(_Model):
    cause: str
    applies_when: Condition  # any one of these (or) the cause is the top cause
    options: tuple[TreatmentOption, ...] = Field(min_length=1)  # first match wins


class Rda(Num):
    life_stage: Literal["adult", "pregnancy", "lactation"]


class Food(Num):
    """A food and its vitamin B12 content per serving (``value`` in micrograms)."""

    name: str
    serving: str
    diets: tuple[Literal["omnivore", "vegetarian", "vegan"], ...]
    fortified: bool = False


class Diet(_Model):
    rda: tuple[Rda, ...]
    foods: tuple[Food, ...]
    applies_when: Condition
    supplement_advice: Provenance
    supplement_text: str


class Advice(Provenance):
    id: str
    text: str
    when: Condition = Condition()


class ComparisonRow(Provenance):
    feature: str
    b12_deficiency: str
    electrolyte: str
    other: str
    matches_b12: tuple[str, ...] = ()  # evidence ids or lab band refs "test:band"
    matches_electrolyte: tuple[str, ...] = ()
    matches_other: tuple[str, ...] = ()


class Plan(_Model):
    test_rules: tuple[TestRule, ...]
    min_information_gain: Num
    treat_threshold: Num
    treatments: tuple[Treatment, ...]
    monitoring: tuple[Advice, ...]
    diet: Diet
    prevention: tuple[Advice, ...]
    comparison: tuple[ComparisonRow, ...]
    never_folate_alone: Advice
    # said when the case records none of the muscle complaints b12dx is built to explain
    no_muscle_complaint: Advice | None = None


class FollowupRule(Provenance):
    id: str
    text: str
    params: dict[str, Num] = {}


class Meta(_Model):
    version: str
    name: str
    disclaimer: str
    lay_disclaimer: str
    min_age: Num
    max_age: Num
    child_refusal: str
    evidence_levels: dict[str, str]


class KnowledgeBase(_Model):
    """The whole knowledge base, parsed; use ``load_kb()`` to get the packaged one."""

    meta: Meta
    sources: tuple[Source, ...]
    causes: tuple[Cause, ...]
    findings: tuple[Finding, ...]
    risk_factors: tuple[RiskFactor, ...]
    drug_classes: tuple[DrugClass, ...]
    links: tuple[Link, ...]
    labs: tuple[LabTest, ...]
    triage: Triage
    plan: Plan
    followup: tuple[FollowupRule, ...] = ()
    sha256: str = ""

    # -- indexes (built lazily; the model is frozen, so they never go stale) --------------
    @cached_property
    def cause_by_id(self) -> dict[str, Cause]:
        return {c.id: c for c in self.causes}

    @cached_property
    def finding_by_id(self) -> dict[str, Finding]:
        return {f.id: f for f in self.findings}

    @cached_property
    def risk_factor_by_id(self) -> dict[str, RiskFactor]:
        return {r.id: r for r in self.risk_factors}

    @cached_property
    def drug_class_by_id(self) -> dict[str, DrugClass]:
        return {d.id: d for d in self.drug_classes}

    @cached_property
    def classes_of_drug(self) -> dict[str, tuple[str, ...]]:
        """Every class id of each medicine (lower-case generic name): its primary class (the one
        that lists it) first, then the classes in its ``also``."""
        return {
            drug.name.lower(): (cls.id, *drug.also)
            for cls in self.drug_classes
            for drug in cls.drugs
        }

    @cached_property
    def lab_by_id(self) -> dict[str, LabTest]:
        return {t.id: t for t in self.labs}

    @cached_property
    def source_by_id(self) -> dict[str, Source]:
        return {s.id: s for s in self.sources}

    @cached_property
    def lab_by_loinc(self) -> dict[str, LabTest]:
        return {code: t for t in self.labs for code in t.loinc}

    @cached_property
    def evidence_ids(self) -> tuple[str, ...]:
        """Every id a Case may state in ``evidence`` (findings a person reports + risk factors)."""
        ids = [f.id for f in self.findings if f.kind != "lab"]
        ids += [r.id for r in self.risk_factors]
        return tuple(ids)

    @cached_property
    def tags_of(self) -> dict[str, frozenset[str]]:
        """Tags of every evidence id, drug classes included."""
        out: dict[str, frozenset[str]] = {}
        for f in self.findings:
            out[f.id] = frozenset(f.tags)
        for r in self.risk_factors:
            out[r.id] = frozenset(r.tags)
        for d in self.drug_classes:
            out[d.id] = frozenset(d.tags)
        return out

    @cached_property
    def alias_map(self) -> dict[str, str]:
        """Former ids and their current ids."""
        out: dict[str, str] = {}
        for f in self.findings:
            for a in f.aliases:
                out[a] = f.id
        for r in self.risk_factors:
            for a in r.aliases:
                out[a] = r.id
        return out

    @property
    def version(self) -> str:
        return self.meta.version


# -- loading -------------------------------------------------------------------------------


def _read_files(directory: Path | None) -> tuple[dict[str, Any], str]:
    """Parsed files (lazily: a mapping that parses on access) and the content hash."""
    digest = hashlib.sha256()
    raw_files: dict[str, bytes] = {}
    root: Any = directory if directory is not None else _packaged_root()
    for name in KB_FILES:
        entry = root / name
        if not entry.is_file():
            if name == "followup.toml":
                continue
            raise KnowledgeBaseError([Issue(name, "file is missing")])
        raw = entry.read_bytes()
        digest.update(name.encode() + b"\0" + raw + b"\0")
        raw_files[name] = raw
    return _LazyToml(raw_files), digest.hexdigest()


def _packaged_root() -> Any:
    """The packaged KB folder: a plain directory in every normal install.

    ``importlib.resources`` (about 4 ms to import) is only needed when the package is not on the
    file system (a zip); the files and therefore the content hash are the same either way.
    """
    here = Path(__file__).with_name("knowledge")
    if here.is_dir():
        return here
    from importlib import resources

    return resources.files("b12dx.knowledge")


def _fast_toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads``, through tomli's compiled build when it is installed.

    The standard library's ``tomllib`` *is* tomli (pure Python); tomli's wheels for CPython are
    compiled with mypyc and parse the KB about three times faster, to the same values. Without
    tomli this is ``tomllib.loads``.
    """
    try:
        import tomli
    except ImportError:
        import tomllib

        return tomllib.loads(text)
    return tomli.loads(text)


class _LazyToml(dict[str, Any]):
    """Parses each TOML file on first access, so a cache hit parses nothing."""

    def __init__(self, raw: dict[str, bytes]) -> None:
        super().__init__()
        self._raw = raw

    def __missing__(self, name: str) -> Any:
        if name not in self._raw:
            raise KeyError(name)
        text = self._raw[name].decode("utf-8")
        try:
            value = _fast_toml_loads(text)
        except ValueError:  # TOMLDecodeError of either parser subclasses ValueError
            # report exactly what the standard library says, whichever parser is installed
            import tomllib

            try:
                value = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise KnowledgeBaseError([Issue(name, f"not valid TOML: {exc}")]) from None
        self[name] = value
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self._raw else default


def _assemble(data: dict[str, Any], sha: str) -> dict[str, Any]:
    return {
        "meta": data["kb.toml"],
        "sources": data["sources.toml"].get("source", []),
        "causes": data["causes.toml"].get("cause", []),
        "findings": data["findings.toml"].get("finding", []),
        "risk_factors": data["risk_factors.toml"].get("risk_factor", []),
        "drug_classes": data["medications.toml"].get("drug_class", []),
        "links": data["links.toml"].get("link", []),
        "labs": data["labs.toml"].get("test", []),
        "triage": data["triage.toml"],
        "plan": data["plan.toml"],
        "followup": data.get("followup.toml", {}).get("rule", []),
        "sha256": sha,
    }


def _locate(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]" if parts else f"[{p}]"
        else:
            parts.append(str(p))
    where = ".".join(parts)
    # name the record by its id when it has one, so the message points at the TOML entry
    node: Any = data
    for p in loc:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "id" in node:
            where += f" (id={node['id']!r})"
            break
    return where


def parse(data: dict[str, Any]) -> KnowledgeBase:
    """Build a KnowledgeBase from plain data, reporting every schema problem at once."""
    try:
        kb = KnowledgeBase.model_validate(data)
    except ValidationError as exc:
        issues = [Issue(_locate(data, tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        raise KnowledgeBaseError(issues) from None
    problems = validate(kb)
    if problems:
        raise KnowledgeBaseError(problems)
    return kb


def load_kb(directory: str | Path | None = None, *, fresh: bool = False) -> KnowledgeBase:
    """Load and validate a knowledge base (the packaged one by default).

    Cached per directory in memory, and on disk by content hash; ``fresh=True`` parses and
    validates the files from scratch (what ``b12dx kb validate`` does).
    """
    key = str(Path(directory).resolve()) if directory is not None else None
    if fresh:
        data, sha = _read_files(Path(key) if key else None)
        return parse(_assemble(data, sha))
    return _load_cached(key)


@lru_cache(maxsize=8)
def _load_cached(directory: str | None) -> KnowledgeBase:
    data, sha = _read_files(Path(directory) if directory else None)
    cached = _cache_path(sha)
    if cached is not None and cached.is_file():
        try:
            # validated when it was written; the file name is the content hash of the sources
            return KnowledgeBase.model_validate_json(cached.read_bytes())
        except (OSError, ValidationError):
            pass
    kb = parse(_assemble(data, sha))
    if cached is not None:
        _write_atomically(cached, kb.model_dump_json().encode())
    return kb


def _cache_path(sha: str) -> Path | None:
    """Where a parsed, validated KB is cached (``B12DX_CACHE_DIR=off`` disables the cache)."""
    import os

    base = os.environ.get("B12DX_CACHE_DIR")
    if base == "off":
        return None
    if not base:
        base = os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "b12dx"
        )
    return Path(base) / f"kb-{sha}.json"


def _write_atomically(path: Path, payload: bytes) -> None:
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kb-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk only costs speed


def validate(kb: KnowledgeBase) -> list[Issue]:
    """Check cross-references and ranges; return every problem found (empty when clean)."""
    from .kb_checks import validate as check

    return check(kb)
