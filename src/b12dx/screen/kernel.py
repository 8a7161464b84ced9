"""The vectorised twin of ``assess()`` over screening-table chunks.

For every row it gives what ``assess()`` gives for the same person: the posterior of every cause,
the triage level, the top cause and the first recommended next test, plus the screening flags.
Tests check the equality row by row (``tests/test_screen_kernel.py``).

Where ``assess()`` applies a rule to one value (a prior entry chosen by age, a lab band chosen by
value, an odds ratio scaled by years of use), the kernel does not re-implement the rule: it sorts
the rows into classes on which the scalar function is constant (the intervals between the KB's
cut-offs) and calls the scalar function once per class. Conditions (``context.holds``) are
evaluated column-wise with the same semantics. Inference is ``engine.infer`` itself, called on
sub-batches whose size keeps the Quickscore working set bounded.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..case import normalise, parse_case
from ..context import lab_findings, result_outcomes
from ..engine import FloatArray, Network, compile_network, infer
from ..errors import B12dxError
from ..kb import Condition, KnowledgeBase, LabCondition, LabTest
from ..labs import LabReading, band_for, fold_unit
from ..plan import RANKING_TOLERANCE as _RANKING_TOLERANCE  # the tolerance plan.py ranks with
from ..plan import entropy
from ..priors import base_prior, effect_log_or
from ..triage import LEVELS
from ..variants import Variant, infer_variants
from .rules import ScreenRules, load_rules
from .schema import ScreenSchema, screen_schema
from .stats import Stats, chunk_stats, index_counts

__all__ = ["Kernel", "ScreenResult", "row_case"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# Cells in one Quickscore working array (rows x subsets x causes); bounds memory per call.
_BUDGET = 1 << 21
_PROFILES = (("female", False), ("female", True), ("male", False))
_SEX_CODES = {
    "female": "female",
    "male": "male",
    "f": "female",
    "m": "male",
    "woman": "female",
    "man": "male",
}
_EPOCH = dt.date(1970, 1, 1)


@dataclass
class ScreenResult:
    """One processed chunk: the output rows, the rejected rows and the summary counts."""

    output: pa.Table
    rejects: pa.Table
    stats: Stats


@dataclass
class _Frame:
    """The accepted rows of a chunk, column-wise."""

    n: int
    age: FloatArray
    profile: IntArray  # index into _PROFILES
    pregnant: BoolArray
    present: dict[str, BoolArray]
    years: dict[str, FloatArray]
    has_lab: dict[str, BoolArray]
    band: dict[str, IntArray]  # index into test.bands, -1 for none
    lab_day: dict[str, IntArray]  # days since 1970-01-01, -1 when undated
    as_of_day: IntArray
    pos: BoolArray = field(default_factory=lambda: np.zeros((0, 0), np.bool_))
    neg: BoolArray = field(default_factory=lambda: np.zeros((0, 0), np.bool_))
    prior: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    post: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    top: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))


def _np_float(arr: pa.Array) -> FloatArray:
    return np.asarray(pc.fill_null(arr, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)


def _np_tristate(arr: pa.Array) -> npt.NDArray[np.int8]:
    """1 true, 0 false, -1 null."""
    return np.asarray(
        pc.fill_null(pc.cast(arr, pa.int8()), -1).to_numpy(zero_copy_only=False), dtype=np.int8
    )


def _np_days(arr: pa.Array) -> IntArray:
    return np.asarray(
        pc.fill_null(pc.cast(pc.cast(arr, pa.date32()), pa.int32()), -1).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.int64,
    )


def _canonical(product: FloatArray) -> FloatArray:
    """``labs.convert``'s rounding of value x factor to 12 significant digits, per distinct
    product (lab columns hold few distinct values, so this is cheap and exactly the same)."""
    out = product.copy()
    ok = np.isfinite(product)
    if ok.any():
        uniq, inv = np.unique(product[ok], return_inverse=True)
        out[ok] = np.array([float(f"{x:.12g}") for x in uniq.tolist()])[inv.reshape(-1)]
    return out


def _present_index(pos: BoolArray) -> IntArray:
    """``engine.infer``'s present-finding argument: indices per row, padded with -1."""
    counts = pos.sum(axis=1)
    width = max(int(counts.max()) if counts.size else 0, 1)
    out = np.full((pos.shape[0], width), -1, dtype=np.int64)
    r, c = np.nonzero(pos)
    starts = np.cumsum(counts) - counts
    out[r, np.arange(r.size) - starts[r]] = c
    return out


def _distinct(key: npt.NDArray[np.uint8]) -> tuple[IntArray, IntArray]:
    """First row of each distinct key row, and each row's distinct index (Arrow's hash table,
    linear time, instead of sorting wide rows)."""
    n, width = key.shape
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    buf = pa.py_buffer(np.ascontiguousarray(key))
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, buf])
    codes = pc.dictionary_encode(arr).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first = np.unique(codes, return_index=True)  # codes number rows by first appearance
    return np.asarray(first, dtype=np.int64), codes


def _names(names: Sequence[str], idx: IntArray) -> pa.Array:
    """A string column from indexes into ``names`` (-1: null), without Python per row."""
    table = pa.array(list(names), pa.string())
    missing = idx < 0
    return pc.take(table, pa.array(idx, pa.int64(), mask=missing if missing.any() else None))


def _joined_flags(ids: Sequence[str], masks: Sequence[BoolArray], n: int) -> pa.Array:
    """Each row's fired flag ids joined by ";" (one string per distinct combination)."""
    if not ids:
        return pa.array(np.full(n, "", dtype=object), pa.string())
    code = np.zeros(n, dtype=np.int64)
    for k, m in enumerate(masks):
        code |= m.astype(np.int64) << k
    combos, inverse = np.unique(code, return_inverse=True)
    words = [";".join(ids[k] for k in range(len(ids)) if (int(c) >> k) & 1) for c in combos]
    return _names(words, inverse.reshape(-1).astype(np.int64))


def row_case(row: dict[str, Any], schema: ScreenSchema) -> dict[str, Any]:
    """The ``b12dx/case/v1`` data for one screening-table row (the scalar reference path)."""
    evidence = [
        {"id": e, "state": "present" if row[e] else "absent"}
        for e in schema.evidence_ids
        if row.get(e) is not None
    ]
    meds = []
    for d in schema.drug_ids:
        years = row.get(f"{d}_years")
        years = None if years is None or (isinstance(years, float) and math.isnan(years)) else years
        taking = row.get(d)
        if taking or (taking is None and years is not None):
            meds.append({"drug_class": d, "years": years})
    labs = []
    for t in schema.lab_ids:
        value = row.get(t)
        if value is None:
            continue
        lab: dict[str, Any] = {
            "test": t,
            "value": value,
            "unit": row.get(f"{t}_unit") or schema.lab_units[t],
        }
        if row.get(f"{t}_date") is not None:
            lab["date"] = row[f"{t}_date"]
        labs.append(lab)
    case: dict[str, Any] = {
        "age": row.get("age"),
        "sex": row.get("sex"),
        "pregnant": bool(row.get("pregnant")),
        "breastfeeding": bool(row.get("breastfeeding")),
        "evidence": evidence,
        "medications": meds,
        "labs": labs,
    }
    if row.get("id") is not None:
        case["id"] = row["id"]
    return case


class Kernel:
    """Screens chunks against one knowledge base (build once, reuse for every chunk)."""

    def __init__(self, kb: KnowledgeBase, rules: ScreenRules | None = None) -> None:
        self.kb = kb
        self.net: Network = compile_network(kb)
        self.schema = screen_schema(kb)
        self.rules = rules if rules is not None else load_rules(kb)
        self.cause_ids = self.net.cause_ids
        self.rank = {level: i for i, level in enumerate(LEVELS)}
        self._band_cache: dict[tuple[str, int, int], int] = {}
        self._findings_of: dict[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._factor_cache: dict[tuple[str, str], float | None] = {}
        self._orderable = [t for t in kb.labs if t.orderable]
        self._variant_cache: dict[int, tuple[tuple[Variant, ...], IntArray, IntArray]] = {}

    # -- output schema ---------------------------------------------------------------------
    def output_schema(self) -> pa.Schema:
        fields = [
            pa.field("row", pa.int64()),
            pa.field("id", pa.string()),
            pa.field("triage_level", pa.string()),
            pa.field("top_cause", pa.string()),
            pa.field("next_test", pa.string()),
            pa.field("flags", pa.string()),
        ]
        fields += [pa.field(f"p_{c}", pa.float64()) for c in self.cause_ids]
        fields += [pa.field(f"flag_{f.id}", pa.bool_()) for f in self.rules.flags]
        fields.append(pa.field("kb_version", pa.string()))
        return pa.schema(fields)

    @staticmethod
    def rejects_schema() -> pa.Schema:
        return pa.schema(
            [
                pa.field("row", pa.int64()),
                pa.field("id", pa.string()),
                pa.field("reason", pa.string()),
            ]
        )

    # -- entry point ------------------------------------------------------------------------
    def run(self, batch: pa.RecordBatch, *, as_of: dt.date) -> ScreenResult:
        """Screen one standardized chunk (see ``reader.standardize``)."""
        n = batch.num_rows
        cols = {name: batch.column(name) for name in batch.schema.names}
        read_error = np.asarray(
            cols["_error"].is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_
        )
        bad = read_error | self._invalid(cols, n)
        good = np.flatnonzero(~bad)
        bad_rows = np.flatnonzero(bad)
        reasons: list[str | None] = []
        if bad_rows.size:  # only rejected rows go through Python, one at a time
            sub = batch.take(pa.array(bad_rows))
            for row in sub.to_pylist():
                reasons.append(row["_error"] if row["_error"] is not None else self._reason(row))
        frame = self._frame(batch.take(pa.array(good)), as_of=as_of) if good.size else None
        output, stats = self._output(batch, good, frame, rejected=int(bad_rows.size))
        rows = cols["_row"]
        rejects = pa.table(
            {
                "row": pc.take(rows, pa.array(bad_rows, pa.int64())),
                "id": pc.take(cols["id"], pa.array(bad_rows, pa.int64())),
                "reason": pa.array(reasons, pa.string()),
            },
            schema=self.rejects_schema(),
        )
        return ScreenResult(output, rejects, stats)

    def _reason(self, row: dict[str, Any]) -> str:
        try:
            normalise(parse_case(row_case(row, self.schema)), self.kb)
        except B12dxError as exc:
            return str(exc)
        return "the row could not be screened"

    # -- validation (mirrors Case and case.normalise) -----------------------------------------
    def _unit_factor(self, test: LabTest, unit: str) -> float | None:
        key = (test.id, unit)
        if key not in self._factor_cache:
            table = {fold_unit(u.unit): u.value for u in test.units}
            self._factor_cache[key] = table.get(fold_unit(unit)) if len(unit) <= 30 else None
        return self._factor_cache[key]

    def _factors(self, test: LabTest, units: pa.Array) -> FloatArray:
        """Conversion factor per row (NaN for an unknown unit; canonical when null)."""
        enc = pc.dictionary_encode(pc.fill_null(units, test.unit))
        words = enc.dictionary.to_pylist()
        table = np.array(
            [f if (f := self._unit_factor(test, w)) is not None else np.nan for w in words]
            + [np.nan],
            dtype=np.float64,
        )
        idx = np.asarray(pc.fill_null(enc.indices, len(words)).to_numpy(zero_copy_only=False))
        return np.asarray(table[idx], dtype=np.float64)

    def _invalid(self, cols: dict[str, pa.Array], n: int) -> BoolArray:
        meta = self.kb.meta
        bad = np.zeros(n, dtype=np.bool_)
        age = _np_float(cols["age"])
        bad |= ~np.isfinite(age) | (age < 0) | (age > 150)
        bad |= (age < meta.min_age.value) | (age > meta.max_age.value)
        sex = self._sex(cols["sex"])
        bad |= sex < 0
        preg = _np_tristate(cols["pregnant"]) == 1
        bad |= preg & (sex == 1)
        ids = cols["id"]
        bad |= np.asarray(
            pc.fill_null(pc.greater(pc.utf8_length(ids), 200), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.bool_,
        )
        for d in self.schema.drug_ids:
            years = _np_float(cols[f"{d}_years"])
            taking = _np_tristate(cols[d])
            used = (taking == 1) | ((taking == -1) & ~np.isnan(years))
            bad |= used & ~np.isnan(years) & ((years < 0) | (years > 100))
        for t in self.schema.lab_ids:
            test = self.kb.lab_by_id[t]
            raw = cols[t]
            has = np.asarray(raw.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
            if not has.any():
                continue
            value = _np_float(raw)
            factor = self._factors(test, cols[f"{t}_unit"])
            canonical = _canonical(value * factor)
            ok = np.isfinite(value) & ~np.isnan(factor)
            with np.errstate(invalid="ignore"):
                ok &= (canonical >= test.plausible_low.value) & (
                    canonical <= test.plausible_high.value
                )
            bad |= has & ~ok
        return bad

    @staticmethod
    def _sex(arr: pa.Array) -> IntArray:
        text = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
        keys = list(_SEX_CODES)
        idx = np.asarray(
            pc.fill_null(pc.index_in(text, pa.array(keys)), -1).to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        code = np.array([0 if _SEX_CODES[k] == "female" else 1 for k in keys] + [-1])
        return np.asarray(code[idx], dtype=np.int64)

    # -- the accepted rows -------------------------------------------------------------------
    def _frame(self, batch: pa.RecordBatch, *, as_of: dt.date) -> _Frame:
        kb, net = self.kb, self.net
        n = batch.num_rows
        col = batch.column
        age = _np_float(col("age"))
        sex = self._sex(col("sex"))
        pregnant = _np_tristate(col("pregnant")) == 1
        profile = np.where(sex == 1, 2, np.where(pregnant, 1, 0)).astype(np.int64)
        present: dict[str, BoolArray] = {}
        pos = np.zeros((n, net.n_findings), dtype=np.bool_)
        neg = np.zeros((n, net.n_findings), dtype=np.bool_)
        for e in self.schema.evidence_ids:
            state = _np_tristate(col(e))
            present[e] = state == 1
            i = net.finding_index.get(e)
            if i is not None:
                pos[:, i] |= state == 1
                neg[:, i] |= state == 0
        years: dict[str, FloatArray] = {}
        for d in self.schema.drug_ids:
            y = _np_float(col(f"{d}_years"))
            taking = _np_tristate(col(d))
            present[d] = (taking == 1) | ((taking == -1) & ~np.isnan(y))
            years[d] = y
        as_of_day = _np_days(col("as_of"))
        as_of_day = np.where(as_of_day < 0, (as_of - _EPOCH).days, as_of_day)
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
            as_of_day=as_of_day,
        )
        values: dict[str, FloatArray] = {}
        for t in self.schema.lab_ids:
            test = kb.lab_by_id[t]
            raw = col(t)
            has = np.asarray(raw.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
            frame.has_lab[t] = has
            frame.lab_day[t] = _np_days(col(f"{t}_date"))
            if has.any():
                values[t] = _canonical(_np_float(raw) * self._factors(test, col(f"{t}_unit")))
            else:
                values[t] = np.full(n, np.nan)
        for test in kb.labs:  # derived tests, as labs.normalise_labs adds them
            deriv = test.derived
            if deriv is None or deriv.formula != "albumin_adjusted_calcium":
                continue
            missing = ~frame.has_lab[test.id]
            inputs_ok = np.logical_and.reduce([frame.has_lab[i] for i in deriv.inputs])
            add = missing & inputs_ok
            if add.any():
                ca, alb = (values[i] for i in deriv.inputs)
                derived = ca + deriv.params["coefficient"].value * (
                    deriv.params["reference_albumin"].value - alb
                )
                values[test.id] = np.where(add, derived, values[test.id])
                frame.has_lab[test.id] = frame.has_lab[test.id] | add
                frame.lab_day[test.id] = np.where(
                    add, frame.lab_day[deriv.inputs[0]], frame.lab_day[test.id]
                )
        for t in self.schema.lab_ids:
            test = kb.lab_by_id[t]
            frame.band[t] = self._bands(test, values[t], frame.has_lab[t], profile)
            for b_idx in np.unique(frame.band[t]):
                if b_idx < 0:
                    continue
                rows = frame.band[t] == b_idx
                p_idx, n_idx = self._lab_findings(test, int(b_idx))
                for i in p_idx:
                    pos[rows, i] = True
                for i in n_idx:
                    neg[rows, i] = True
        frame.pos, frame.neg = pos, neg
        frame.prior = self._prior(frame)
        frame.post = self._infer(frame.prior, pos, neg)
        frame.top = np.argmax(frame.post, axis=1).astype(np.int64)
        return frame

    def _lab_findings(self, test: LabTest, b_idx: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        key = (test.id, b_idx)
        if key not in self._findings_of:
            reading = LabReading(
                test=test,
                value=0.0,
                band=test.bands[b_idx],
                local_range_used=False,
                original_value=None,
                original_unit=None,
                derived=False,
            )
            self._findings_of[key] = lab_findings(self.net, reading)
        return self._findings_of[key]

    def _bands(
        self, test: LabTest, value: FloatArray, has: BoolArray, profile: IntArray
    ) -> IntArray:
        """Band index per row: ``labs.band_for`` called once per (cut-off class, profile)."""
        out = np.full(value.shape[0], -1, dtype=np.int64)
        if not test.bands or not has.any():
            return out
        edges = np.array(
            sorted({e for b in test.bands for e in (b.lower, b.upper) if e is not None}),
            dtype=np.float64,
        )
        rows = np.flatnonzero(has)
        v = value[rows]
        idx = np.searchsorted(edges, v, side="left")
        on_edge = (idx < edges.size) & (edges[np.minimum(idx, edges.size - 1)] == v)
        cls = idx * 2 + np.where(on_edge, 0, 1)
        key = cls * len(_PROFILES) + profile[rows]
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        ids = {id(b): i for i, b in enumerate(test.bands)}
        band_of = np.empty(uniq.size, dtype=np.int64)
        for u, f in enumerate(first):
            sex, preg = _PROFILES[int(profile[rows[f]])]
            band, _ = band_for(test, float(v[f]), sex=sex, pregnant=preg)
            band_of[u] = -1 if band is None else ids[id(band)]
        out[rows] = band_of[inverse.reshape(-1)]
        return out

    def _prior(self, f: _Frame) -> FloatArray:
        """``priors.person_prior`` for every row."""
        kb, net = self.kb, self.net
        n_c = net.n_causes
        edges = np.array(
            sorted(
                {
                    e
                    for c in kb.causes
                    for p in c.prior
                    for e in (p.age_from, p.age_to)
                    if e is not None
                }
            )
        )
        idx = np.searchsorted(edges, f.age, side="right")  # age_from inclusive, age_to not
        key = idx * len(_PROFILES) + f.profile
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        table = np.zeros((uniq.size, n_c))
        for u, r in enumerate(first):
            sex, preg = _PROFILES[int(f.profile[r])]
            for j, cid in enumerate(net.cause_ids):
                table[u, j] = base_prior(
                    kb.cause_by_id[cid], age=float(f.age[r]), sex=sex, pregnant=preg
                ).value
        base = table[inverse.reshape(-1)]
        for j, cid in enumerate(net.cause_ids):
            req = kb.cause_by_id[cid].requires_any
            if req:
                ok = np.logical_or.reduce([f.present.get(r, np.zeros(f.n, np.bool_)) for r in req])
                base[~ok, j] = 0.0
        live = base > 0
        logits = np.full(base.shape, -np.inf)
        logits[live] = np.log(base[live]) - np.log1p(-base[live])
        for rf in kb.risk_factors:
            has = f.present.get(rf.id)
            if has is None or not has.any():
                continue
            for e in rf.effects:
                lo = effect_log_or(e, None)
                if lo:
                    logits[has, net.cause_index[e.cause]] += lo
        for d in kb.drug_classes:
            taking = f.present[d.id]
            if not taking.any() or not d.effects:
                continue
            y = f.years[d.id][taking]
            uy, inv = np.unique(y, return_inverse=True)  # NaN (not stated) sorts last
            for e in d.effects:
                los = np.array([effect_log_or(e, None if math.isnan(x) else float(x)) for x in uy])
                if not los.any():
                    continue
                logits[taking, net.cause_index[e.cause]] += los[inv.reshape(-1)]
        return np.where(live, 1.0 / (1.0 + np.exp(-np.where(live, logits, 0.0))), 0.0)

    def _infer(self, prior: FloatArray, pos: BoolArray, neg: BoolArray) -> FloatArray:
        """``engine.infer`` in sub-batches of equal present-finding count."""
        post = np.zeros_like(prior)
        counts = pos.sum(axis=1)
        n_c = self.net.n_causes
        for k in np.unique(counts):
            rows = np.flatnonzero(counts == k)
            step = max(1, _BUDGET // ((1 << min(int(k), 40)) * n_c))
            for s in range(0, rows.size, step):
                r = rows[s : s + step]
                if k:
                    idx = np.nonzero(pos[r])[1].reshape(r.size, int(k))
                else:
                    idx = np.full((r.size, 1), -1, dtype=np.int64)
                post[r], _ = infer(self.net, prior[r], idx, neg[r], exact_log_z=False)
        return post

    # -- conditions, triage, next test, flags --------------------------------------------------
    def holds(self, cond: Condition, f: _Frame) -> BoolArray:
        """``context.holds`` for every row."""
        n = f.n
        none = np.zeros(n, dtype=np.bool_)
        m = np.ones(n, dtype=np.bool_)

        def pres(e: str) -> BoolArray:
            return f.present.get(e, none)

        if cond.all_of:
            m &= np.logical_and.reduce([pres(e) for e in cond.all_of])
        if cond.any_of:
            m &= np.logical_or.reduce([pres(e) for e in cond.any_of])
        if cond.none_of:
            m &= ~np.logical_or.reduce([pres(e) for e in cond.none_of])
        if cond.tags_any or cond.tags_all:
            tag_of = self.kb.tags_of

            def tag(t: str) -> BoolArray:
                ids = [e for e, tags in tag_of.items() if t in tags]
                return np.logical_or.reduce([pres(e) for e in ids]) if ids else none

            if cond.tags_any:
                m &= np.logical_or.reduce([tag(t) for t in cond.tags_any])
            if cond.tags_all:
                m &= np.logical_and.reduce([tag(t) for t in cond.tags_all])

        def in_bands(lc: LabCondition) -> BoolArray:
            bands = self.kb.lab_by_id[lc.test].bands
            return np.isin(f.band[lc.test], [i for i, b in enumerate(bands) if b.id in lc.bands])

        if cond.labs_any:
            m &= np.logical_or.reduce([in_bands(lc) for lc in cond.labs_any])
        for lc in cond.labs_all:
            m &= in_bands(lc)
        if cond.labs_missing:
            m &= ~np.logical_or.reduce([f.has_lab[t] for t in cond.labs_missing])
        if cond.labs_present:
            m &= np.logical_and.reduce([f.has_lab[t] for t in cond.labs_present])
        if cond.causes_any:
            m &= np.logical_or.reduce(
                [
                    f.post[:, self.net.cause_index[cc.cause]] >= cc.min_probability.value
                    for cc in cond.causes_any
                ]
            )
        if cond.top_cause_in:
            m &= np.isin(f.top, [self.net.cause_index[c] for c in cond.top_cause_in])
        if cond.pregnant is not None:
            m &= f.pregnant == cond.pregnant
        if cond.age_at_least is not None:
            m &= ~(f.age < cond.age_at_least.value)
        return m

    def triage(self, f: _Frame) -> IntArray:
        """Index into ``triage.LEVELS`` per row (``triage.decide``)."""
        tri = self.kb.triage
        worst = len(LEVELS)
        rank = np.full(f.n, worst, dtype=np.int64)
        for flag in tri.red_flags:
            rank = np.where(self.holds(flag.when, f), np.minimum(rank, self.rank[flag.level]), rank)
        for rule in tri.probability_rules:
            p = f.post[:, self.net.cause_index[rule.cause]]
            rank = np.where(
                p >= rule.min_probability.value, np.minimum(rank, self.rank[rule.level]), rank
            )
        sc = tri.self_care
        allowed = [self.net.cause_index[c] for c in sc.causes]
        others = [j for j, c in enumerate(self.cause_ids) if c not in sc.causes]
        other_max = f.post[:, others].max(axis=1) if others else np.zeros(f.n)
        self_limiting = np.isin(f.top, allowed) & (other_max < sc.max_other_probability.value)
        if sc.when is not None:
            self_limiting &= self.holds(sc.when, f)
        baseline = np.where(self_limiting, self.rank["self_care"], self.rank[sc.default_level])
        return np.where(rank == worst, baseline, rank)

    def next_test_index(self, f: _Frame) -> IntArray:
        """The first of ``plan.next_tests`` per row, as an index into ``kb.labs`` (-1: none)."""
        kb = self.kb
        choice = np.full(f.n, -1, dtype=np.int64)
        lab_index = {t.id: i for i, t in enumerate(kb.labs)}
        done = {t: f.has_lab[t] for t in self.schema.lab_ids}
        for rule in sorted(kb.plan.test_rules, key=lambda r: r.priority):
            open_rows = choice < 0
            if not open_rows.any():
                break
            fires = self.holds(rule.when, f) & open_rows
            for tid in rule.tests:
                take = fires & ~done[tid] & (choice < 0)
                choice[take] = lab_index[tid]
        rest = np.flatnonzero(choice < 0)
        if rest.size:
            choice[rest] = self._eig_choice(f, rest)
        return choice

    def _variants(self, profile: int) -> tuple[tuple[Variant, ...], IntArray, IntArray]:
        """Every outcome of every orderable test for one sex/pregnancy profile, as a variant of
        the evidence (``plan._test_variants``): the outcome's band finding present (if any), the
        test's other band findings absent. Returns the variants, the index of each variant's
        test among the tests that have variants (contiguous runs), and those tests' indexes
        among the orderable tests (a test with fewer than two outcomes has no gain)."""
        got = self._variant_cache.get(profile)
        if got is not None:
            return got
        sex, preg = _PROFILES[profile]
        variants: list[Variant] = []
        owner: list[int] = []
        tested: list[int] = []
        for ti, test in enumerate(self._orderable):
            outs = result_outcomes(self.net, [b for b in test.bands if b.applies_to(sex, preg)])
            if len(outs) < 2:
                continue
            all_f = {i for o in outs for i in o}
            for o in outs:
                variants.append(Variant(add_pos=o, add_neg=tuple(sorted(all_f - set(o)))))
                owner.append(len(tested))
            tested.append(ti)
        got = (tuple(variants), np.array(owner, np.int64), np.array(tested, np.int64))
        self._variant_cache[profile] = got
        return got

    def _eig_choice(self, f: _Frame, rows: IntArray) -> IntArray:
        """``plan.next_tests``' ranking by expected information gain, for the rows where no
        guideline rule names a test: all outcomes of all tests from one ``infer_variants`` call
        per group of rows (the tests already done are masked afterwards)."""
        kb = self.kb
        tests = self._orderable
        done_m = np.stack([f.has_lab[t.id] for t in tests], axis=1)[rows]
        # Identical rows have identical gains: compute each distinct row once (hashing).
        first, inverse = _distinct(
            np.concatenate(
                [
                    f.prior[rows].view(np.uint8).reshape(rows.size, -1),
                    np.packbits(f.pos[rows], axis=1),
                    np.packbits(f.neg[rows], axis=1),
                    np.packbits(done_m, axis=1),
                    f.profile[rows, None].astype(np.uint8),
                ],
                axis=1,
            )
        )
        urows = rows[first]
        done_u = done_m[first]
        gains = np.full((urows.size, len(tests)), -np.inf)
        h0 = entropy(f.post[urows])
        counts = f.pos[urows].sum(axis=1)
        for prof in np.unique(f.profile[urows]).tolist():
            variants, owner, tested = self._variants(int(prof))
            if not variants:
                continue
            starts = np.searchsorted(owner, np.arange(tested.size))  # each test's first variant
            sel = np.flatnonzero(f.profile[urows] == prof)
            sel = sel[np.argsort(counts[sel], kind="stable")]  # similar k share a call
            step = max(1, _BUDGET // (len(variants) * self.net.n_causes))
            for s in range(0, sel.size, step):
                part = sel[s : s + step]
                r = urows[part]
                post, log_z = infer_variants(
                    self.net,
                    f.prior[r],
                    _present_index(f.pos[r]),
                    f.neg[r],
                    variants,
                    tolerance=_RANKING_TOLERANCE,
                    outcome_of=owner.tolist(),
                )
                # plan._gains: outcomes weighted by their probability, per test
                top = np.maximum.reduceat(log_z, starts, axis=1)
                w = np.exp(log_z - top[:, owner])
                h = np.add.reduceat(w * entropy(post), starts, axis=1) / np.add.reduceat(
                    w, starts, axis=1
                )
                gains[np.ix_(part, tested)] = np.maximum(0.0, h0[part, None] - h)
        gains[done_u] = -np.inf
        floor = kb.plan.min_information_gain.value
        lab_index = {t.id: i for i, t in enumerate(kb.labs)}
        best = np.full(urows.size, -1, dtype=np.int64)
        # plan.next_tests ranks by (gain, test id) descending and stops below the floor
        order = sorted(range(len(tests)), key=lambda i: tests[i].id, reverse=True)
        best_g = np.full(urows.size, -np.inf)
        for ti in order:
            g = gains[:, ti]
            better = (g > best_g) & (g >= floor)
            best = np.where(better, lab_index[tests[ti].id], best)
            best_g = np.where(better, g, best_g)
        return np.asarray(best[inverse], dtype=np.int64)

    def flags(self, f: _Frame) -> list[BoolArray]:
        out = []
        for rule in self.rules.flags:
            m = np.ones(f.n, dtype=np.bool_)
            for cond in rule.when:
                m &= self.holds(cond, f)
            if rule.exposure is not None:
                need = rule.exposure.years.value
                exp = np.zeros(f.n, dtype=np.bool_)
                for d in rule.exposure.drugs:
                    with np.errstate(invalid="ignore"):
                        exp |= f.present[d] & (f.years[d] >= need)
                m &= exp
            if rule.no_recent_lab is not None:
                window = rule.no_recent_lab.days.value
                for t in rule.no_recent_lab.tests:
                    day = f.lab_day[t]
                    recent = f.has_lab[t] & ((day < 0) | (f.as_of_day - day <= window))
                    m &= ~recent
            out.append(m)
        return out

    # -- assembling the output -----------------------------------------------------------------
    def _output(
        self, batch: pa.RecordBatch, good: IntArray, f: _Frame | None, *, rejected: int
    ) -> tuple[pa.Table, Stats]:
        schema = self.output_schema()
        take = pa.array(good, pa.int64())
        data: dict[str, pa.Array | Sequence[Any]] = {
            "row": pc.take(batch.column("_row"), take),
            "id": pc.take(batch.column("id"), take),
        }
        n = good.size
        if f is None:
            return schema.empty_table(), Stats(rejected=rejected)
        level_idx = self.triage(f)
        data["triage_level"] = _names(LEVELS, level_idx)
        data["top_cause"] = _names(self.cause_ids, f.top)
        test_idx = self.next_test_index(f)
        test_names = [t.id for t in self.kb.labs]
        data["next_test"] = _names(test_names, test_idx)
        flag_masks = self.flags(f)
        ids = [r.id for r in self.rules.flags]
        data["flags"] = _joined_flags(ids, flag_masks, n)
        post_t = np.ascontiguousarray(f.post.T)  # one contiguous column per cause
        for j, c in enumerate(self.cause_ids):
            data[f"p_{c}"] = pa.array(post_t[j], pa.float64())
        for rid, mask in zip(ids, flag_masks, strict=True):
            data[f"flag_{rid}"] = pa.array(mask, pa.bool_())
        data["kb_version"] = _names([self.kb.version], np.zeros(n, np.int64))
        rep = self.rules.report
        urgent = np.isin(level_idx, [self.rank[lv] for lv in rep.urgent_levels])
        stats = chunk_stats(
            rejected=rejected,
            levels=index_counts(LEVELS, level_idx),
            top=index_counts(self.cause_ids, f.top),
            next_tests=index_counts(test_names, test_idx),
            flag_masks=dict(zip(ids, flag_masks, strict=True)),
            p_focus=f.post[:, self.net.cause_index[rep.focus_cause]],
            groups=self._groups(f),
            urgent=urgent,
        )
        return pa.table(data, schema=schema), stats

    def _groups(self, f: _Frame) -> dict[str, dict[str, BoolArray]]:
        rep = self.rules.report
        meds = {self.kb.drug_class_by_id[d].name: f.present[d] for d in self.schema.drug_ids}
        meds["no listed medicine"] = (
            ~np.logical_or.reduce([f.present[d] for d in self.schema.drug_ids])
            if self.schema.drug_ids
            else np.ones(f.n, np.bool_)
        )
        edges = np.array(rep.age_bands)
        band = np.searchsorted(edges, f.age, side="right") - 1
        ages: dict[str, BoolArray] = {}
        for i, lo in enumerate(edges):
            hi = f"{edges[i + 1]:g}" if i + 1 < edges.size else "+"
            label = f"{lo:g}-{hi}" if i + 1 < edges.size else f"{lo:g}+"
            ages[label] = band == i
        diet: dict[str, BoolArray] = {}
        taken = np.zeros(f.n, np.bool_)
        for e in rep.diet:
            m = f.present[e] & ~taken
            diet[self.kb.risk_factor_by_id[e].name if e in self.kb.risk_factor_by_id else e] = m
            taken |= m
        diet["other or not recorded"] = ~taken
        return {"medication": meds, "age band": ages, "diet": diet}
