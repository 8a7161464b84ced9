"""A seeded synthetic population for demos and benchmarks (``b12dx synth N -o FILE``).

People are drawn from the model itself: age, sex and pregnancy, risk factors and medicines from
``knowledge/synth.toml``; the causes each person has from their KB prior
(``priors.person_prior``, vectorised by the screening kernel); the findings they report from the
KB's noisy-OR links and leaks; and lab values from the distributions documented in
``synth.toml`` (shifted when a listed cause is present). Each parameter there carries its
sources, evidence level and rationale: they shape plausible test data and are not clinical
claims. The same seed and N always give the same file.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError, Issue, KnowledgeBaseError
from ..kb import KnowledgeBase, Num, Provenance
from ..labs import fold_unit
from .kernel import Kernel, _Frame

__all__ = ["SynthSpec", "load_spec", "synth_batches", "write_synth"]

_CHUNK = 100_000  # rows per generated chunk; each chunk has its own derived seed
_EPOCH = dt.date(1970, 1, 1)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dist(Provenance):
    """``lognormal`` (a = median, b = geometric SD), ``normal`` (mean, SD) or ``uniform``."""

    kind: Literal["lognormal", "normal", "uniform"]
    a: float
    b: float


class AgeBand(Num):
    """Share of adults (``value``) with ages uniform in [age_from, age_to)."""

    age_from: float
    age_to: float


class Prevalence(Num):
    id: str


class DrugUse(Num):
    id: str
    years: Dist


class CauseShift(_Model):
    cause: str
    dist: Dist


class LabSpec(_Model):
    test: str
    unit: str
    tested: Num
    normal: Dist
    when_cause: tuple[CauseShift, ...] = ()
    days_ago: Dist
    decimals: int = 1


class SynthSpec(_Model):
    version: str
    female: Num
    age: tuple[AgeBand, ...] = Field(min_length=1)
    pregnant: Num
    pregnancy_age_to: Num
    evidence_recorded: Num
    risk_factor_default: Num
    risk_factors: tuple[Prevalence, ...] = ()
    drugs: tuple[DrugUse, ...] = ()
    labs: tuple[LabSpec, ...] = ()
    defect_fraction: Num
    defect_age: Num
    as_of: dt.date


def load_spec(kb: KnowledgeBase, text: str | None = None) -> SynthSpec:
    if text is None:
        text = resources.files("b12dx.knowledge").joinpath("synth.toml").read_text("utf-8")
    try:
        spec = SynthSpec.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise KnowledgeBaseError([Issue("synth.toml", str(exc))]) from None
    issues: list[Issue] = []
    for s in _sources(spec):
        if s not in kb.source_by_id:
            issues.append(Issue("synth.toml", f"unknown source {s!r}"))
    for p in spec.risk_factors:
        if p.id not in kb.risk_factor_by_id:
            issues.append(Issue("synth.toml risk_factors", f"unknown risk factor {p.id!r}"))
    for d in spec.drugs:
        if d.id not in kb.drug_class_by_id:
            issues.append(Issue("synth.toml drugs", f"unknown drug class {d.id!r}"))
    for lab in spec.labs:
        test = kb.lab_by_id.get(lab.test)
        if test is None:
            issues.append(Issue("synth.toml labs", f"unknown lab test {lab.test!r}"))
            continue
        if fold_unit(lab.unit) not in {fold_unit(u.unit) for u in test.units}:
            issues.append(
                Issue(
                    f"synth.toml labs({lab.test})", f"unit {lab.unit!r} is not accepted by the KB"
                )
            )
        for cs in lab.when_cause:
            if cs.cause not in kb.cause_by_id:
                issues.append(Issue(f"synth.toml labs({lab.test})", f"unknown cause {cs.cause!r}"))
    if issues:
        raise KnowledgeBaseError(issues)
    return spec


def _sources(spec: SynthSpec) -> set[str]:
    out: set[str] = set()

    def walk(obj: object) -> None:
        if isinstance(obj, Provenance):
            out.update(obj.sources)
        if isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                walk(getattr(obj, name))
        elif isinstance(obj, tuple):
            for item in obj:
                walk(item)

    walk(spec)
    return out


def _draw(rng: np.random.Generator, d: Dist, n: int) -> npt.NDArray[np.float64]:
    if d.kind == "lognormal":
        return np.asarray(d.a * np.exp(np.log(d.b) * rng.standard_normal(n)))
    if d.kind == "normal":
        return np.asarray(d.a + d.b * rng.standard_normal(n))
    return np.asarray(rng.uniform(d.a, d.b, n))


def _chunk(
    kernel: Kernel, spec: SynthSpec, rng: np.random.Generator, start: int, n: int, as_of: dt.date
) -> pa.RecordBatch:
    kb, net, schema = kernel.kb, kernel.net, kernel.schema
    cols: dict[str, pa.Array] = {}
    cols["id"] = pa.array([f"P{start + i:09d}" for i in range(n)], pa.string())
    weights = np.array([b.value for b in spec.age])
    band = rng.choice(len(spec.age), size=n, p=weights / weights.sum())
    lo = np.array([b.age_from for b in spec.age])[band]
    hi = np.array([b.age_to for b in spec.age])[band]
    age = np.floor(lo + (hi - lo) * rng.random(n))
    female = rng.random(n) < spec.female.value
    pregnant = female & (age < spec.pregnancy_age_to.value) & (rng.random(n) < spec.pregnant.value)
    present: dict[str, npt.NDArray[np.bool_]] = {}
    prevalence = {p.id: p.value for p in spec.risk_factors}
    for rf in kb.risk_factors:
        present[rf.id] = rng.random(n) < prevalence.get(rf.id, spec.risk_factor_default.value)
    years: dict[str, npt.NDArray[np.float64]] = {}
    uses = {d.id: d for d in spec.drugs}
    for d in kb.drug_classes:
        use = uses.get(d.id)
        taking = rng.random(n) < (use.value if use else 0.0)
        present[d.id] = taking
        y = np.round(np.clip(_draw(rng, use.years, n), 0.0, age), 1) if use else np.zeros(n)
        years[d.id] = np.where(taking, y, np.nan)
    profile = np.where(~female, 2, np.where(pregnant, 1, 0)).astype(np.int64)
    frame = _Frame(
        n=n,
        age=age,
        profile=profile,
        pregnant=pregnant,
        present=present,
        years=years,
        has_lab={},
        band={},
        lab_day={},
        as_of_day=np.zeros(n, np.int64),
    )
    prior = kernel._prior(frame)
    causes = rng.random(prior.shape) < prior
    # P(finding absent | causes) = (1 - leak) * prod (1 - q) over the causes present
    log_absent = net.log1m_leak[None, :] + causes.astype(np.float64) @ net.log1m_q.T
    finding_on = rng.random(log_absent.shape) >= np.exp(log_absent)
    recorded = rng.random(log_absent.shape) < spec.evidence_recorded.value
    cols["age"] = pa.array(age, pa.float64())
    cols["sex"] = pa.array(np.where(female, "female", "male").tolist(), pa.string())
    cols["pregnant"] = pa.array(pregnant, pa.bool_())
    for e in schema.evidence_ids:
        i = net.finding_index.get(e)
        if i is not None:
            mask = ~recorded[:, i]
            cols[e] = pa.array(finding_on[:, i], pa.bool_(), mask=mask)
        else:
            cols[e] = pa.array(present[e], pa.bool_())
    for did in schema.drug_ids:
        cols[did] = pa.array(present[did], pa.bool_())
        cols[f"{did}_years"] = pa.array(years[did], pa.float64(), mask=np.isnan(years[did]))
    for lab in spec.labs:
        value = _draw(rng, lab.normal, n)
        shifted = np.zeros(n, np.bool_)
        for cs in lab.when_cause:
            active = causes[:, net.cause_index[cs.cause]] & ~shifted
            value = np.where(active, _draw(rng, cs.dist, n), value)
            shifted |= active
        value = np.asarray(np.round(np.maximum(value, 0.0), lab.decimals), dtype=np.float64)
        tested = rng.random(n) < lab.tested.value
        days = np.maximum(_draw(rng, lab.days_ago, n), 0).astype(np.int64)
        day = (as_of - _EPOCH).days - days
        cols[lab.test] = pa.array(value, pa.float64(), mask=~tested)
        cols[f"{lab.test}_unit"] = pa.array([lab.unit] * n, pa.string(), mask=~tested)
        cols[f"{lab.test}_date"] = pa.array(day.astype(np.int32), pa.int32(), mask=~tested).cast(
            pa.date32()
        )
    # a few defective rows, so that demos and benchmarks exercise the rejects file
    defect = rng.random(n) < spec.defect_fraction.value
    if defect.any():
        kinds = rng.integers(0, 2, n)
        child = defect & (kinds == 0)
        ages = np.where(child, spec.defect_age.value, age)
        cols["age"] = pa.array(ages, pa.float64())
        if spec.labs:
            first = spec.labs[0].test
            bad_unit = defect & (kinds == 1)
            units = np.where(bad_unit, "furlongs", spec.labs[0].unit)
            tested = np.asarray(cols[first].is_valid())
            cols[first] = pa.array(
                np.where(bad_unit, 1.0, cols[first].to_numpy(zero_copy_only=False)),
                pa.float64(),
                mask=~(tested | bad_unit),
            )
            cols[f"{first}_unit"] = pa.array(units.tolist(), pa.string(), mask=~(tested | bad_unit))
    names = [c for c in schema.names if c in cols]
    return pa.RecordBatch.from_arrays([cols[c] for c in names], names=names)


def synth_batches(
    n: int, kb: KnowledgeBase, *, seed: int, as_of: dt.date
) -> Iterator[pa.RecordBatch]:
    """The population in chunks; chunk ``i`` draws from seed ``(seed, i)``."""
    if n < 0:
        raise InputError("N must be zero or more")
    spec = load_spec(kb)
    kernel = Kernel(kb)
    for index, start in enumerate(range(0, n, _CHUNK)):
        rng = np.random.default_rng([seed, index])
        yield _chunk(kernel, spec, rng, start, min(_CHUNK, n - start), as_of)


def write_synth(
    n: int, path: Path, kb: KnowledgeBase, *, seed: int = 0, as_of: dt.date | None = None
) -> int:
    """Write N synthetic people to a Parquet or CSV file; returns the row count."""
    import pyarrow.parquet as pq

    as_of = as_of or load_spec(kb).as_of
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise InputError(f"cannot tell the output format of {path.name}: use .parquet or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    csv_writer = None
    rows = 0
    try:
        for batch in synth_batches(n, kb, seed=seed, as_of=as_of):
            rows += batch.num_rows
            if suffix == ".csv":
                import pyarrow.csv as pacsv

                if csv_writer is None:
                    csv_writer = pacsv.CSVWriter(tmp, batch.schema)
                csv_writer.write_batch(batch)
            else:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, batch.schema, compression="zstd")
                writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()
        if csv_writer is not None:
            csv_writer.close()
    if rows == 0:
        raise InputError("N must be at least 1")
    tmp.replace(path)
    return rows
