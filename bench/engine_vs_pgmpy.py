"""b12dx's exact noisy-OR engine against pgmpy's exact variable elimination on the same network.

The pgmpy model is the KB's two-layer network written the textbook way: one binary root per cause
with the person's prior, one shared root ``LEAK`` that is always present (P = 1), and one
``NoisyORCPD`` per observed finding whose parents are its linked causes plus ``LEAK`` (activation
probabilities q_ij and leak_i). Unobserved findings are barren and sum to one, so both sides use
only the observed ones (pgmpy prunes them too).

1. Agreement: for every example in ``examples/`` and every vignette in ``tests/cases`` the case
   goes through b12dx's own normalisation, priors and observation encoding
   (``assessment.build_context``); pgmpy then computes every cause marginal from the same priors
   and observations. The largest absolute difference must be <= 1e-6.
2. Timing: single-case exact inference (all cause posteriors) in both, on every case, and on
   synthetic cases with k = 0..20 present findings drawn from the KB.

Run (prints Markdown for docs/benchmarks.md; exits 1 on any disagreement):

    .venv/bin/python bench/engine_vs_pgmpy.py [--repeat 5] [--max-k 20] [--budget 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-6


@dataclass(frozen=True)
class Problem:
    """One inference problem: priors over the causes and observed findings."""

    name: str
    prior: np.ndarray  # (n,)
    pos: tuple[int, ...]
    neg: tuple[int, ...]


def noisy_or_cpd(variable: str, probs: list[float], parents: list[str]) -> Any:
    """The same table as pgmpy's ``NoisyORCPD`` (states "True", "False"; first parent most
    significant), built with numpy instead of a Python loop over 2^n parent states."""
    from pgmpy.factors.discrete import TabularCPD

    n = len(parents)
    idx = np.arange(1 << n, dtype=np.int64)
    on = ((idx[:, None] >> np.arange(n - 1, -1, -1)) & 1) == 0  # column state "True"
    p_true = -np.expm1(on @ np.log1p(-np.asarray(probs)))
    names = {variable: ["True", "False"]} | {v: ["True", "False"] for v in parents}
    return TabularCPD(
        variable,
        2,
        np.stack([p_true, 1 - p_true]),
        evidence=parents,
        evidence_card=[2] * n,
        state_names=names,
    )


def pgmpy_posteriors(net: Any, prob: Problem) -> tuple[np.ndarray, float]:
    """All cause posteriors by pgmpy VariableElimination, and the seconds the query took."""
    import logging

    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination
    from pgmpy.models import DiscreteBayesianNetwork

    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    q = -np.expm1(net.log1m_q)  # q_ij = 1 - exp(log(1 - q_ij))
    leak = -np.expm1(net.log1m_leak)
    causes = list(net.cause_ids)
    observed = list(prob.pos) + list(prob.neg)
    edges = []
    cpds = [TabularCPD("LEAK", 2, [[1.0], [0.0]], state_names={"LEAK": ["True", "False"]})]
    for j, c in enumerate(causes):
        p = float(prob.prior[j])
        cpds.append(TabularCPD(c, 2, [[p], [1.0 - p]], state_names={c: ["True", "False"]}))
    for i in observed:
        f = net.finding_ids[i]
        parents = [causes[j] for j in np.flatnonzero(q[i] > 0)]
        edges += [(c, f) for c in parents] + [("LEAK", f)]
        values = [float(q[i, net.cause_index[c]]) for c in parents] + [float(leak[i])]
        cpds.append(noisy_or_cpd(f, values, [*parents, "LEAK"]))
    model = DiscreteBayesianNetwork(edges)
    model.add_nodes_from([*causes, "LEAK"])
    model.add_cpds(*cpds)
    evidence = {net.finding_ids[i]: "True" for i in prob.pos}
    evidence |= {net.finding_ids[i]: "False" for i in prob.neg}
    engine = VariableElimination(model)
    t = time.perf_counter()
    marg = engine.query(causes, evidence=evidence, joint=False, show_progress=False)
    elapsed = time.perf_counter() - t
    post = np.array([float(marg[c].get_value(**{c: "True"})) for c in causes])
    return post, elapsed


def engine_posteriors(net: Any, prob: Problem) -> tuple[np.ndarray, float]:
    from b12dx.context import Observation, encode
    from b12dx.engine import infer

    pos, neg = encode(net, [Observation(prob.pos, prob.neg)])
    prior = prob.prior[None, :]
    t = time.perf_counter()
    post, _ = infer(net, prior, pos, neg)
    return post[0], time.perf_counter() - t


def case_problems(kb: Any, paths: Sequence[Path]) -> list[Problem]:
    """Cases turned into problems exactly as ``assess()`` does it."""
    from b12dx.assessment import build_context
    from b12dx.case import normalise, parse_case
    from b12dx.evaluate import load_vignette

    out = []
    for path in paths:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            data = load_vignette(path).case
        ctx, _ = build_context(normalise(parse_case(data), kb), kb)
        out.append(Problem(path.stem, ctx.prior, ctx.observation.pos, ctx.observation.neg))
    return out


def synthetic(net: Any, kb: Any, k: int, rng: np.random.Generator) -> Problem:
    """k present findings chosen at random among the linked ones, and up to 5 absent ones;
    base priors of a 60-year-old woman."""
    from b12dx.priors import person_prior

    prior, _, _ = person_prior(
        kb, net, age=60, sex="female", pregnant=False, present=set(), drug_years={}
    )
    linked = np.flatnonzero((net.log1m_q < 0).any(axis=1))
    order = rng.permutation(linked)
    pos = tuple(int(i) for i in order[: min(k, len(order))])
    neg = tuple(int(i) for i in order[len(pos) : len(pos) + 5])
    return Problem(f"k={k}", prior, pos, neg)


def median_time(fn: Any, net: Any, prob: Problem, repeat: int) -> float:
    fn(net, prob)  # warm-up
    return statistics.median(fn(net, prob)[1] for _ in range(repeat))


def ratio(theirs: float, ours: float) -> str:
    """pgmpy time / b12dx time, readable below 1 too."""
    r = theirs / ours
    return f"{r:.0f}x" if r >= 10 else f"{r:.2g}x"


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=Path, default=None, help="knowledge-base folder")
    ap.add_argument("--cases", type=Path, default=ROOT / "tests" / "cases")
    ap.add_argument("--examples", type=Path, default=ROOT / "examples")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-k", type=int, default=20)
    ap.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="stop timing pgmpy at the first k whose query exceeds this many seconds",
    )
    ap.add_argument("--seed", type=int, default=239)
    ap.add_argument("--json", type=Path, default=None, help="also write raw results here")
    args = ap.parse_args(argv)

    from b12dx.engine import compile_network
    from b12dx.kb import load_kb

    kb = load_kb(args.kb) if args.kb else load_kb()
    net = compile_network(kb)
    paths = sorted(args.examples.glob("*.json")) + sorted(args.cases.glob("*.yaml"))
    problems = case_problems(kb, paths)
    print(f"{len(problems)} cases prepared", file=sys.stderr, flush=True)

    rows = []
    worst = 0.0
    for prob in problems:
        ours, t_ours = engine_posteriors(net, prob)
        theirs, t_theirs = pgmpy_posteriors(net, prob)
        diff = float(np.max(np.abs(ours - theirs)))
        worst = max(worst, diff)
        t_ours = median_time(engine_posteriors, net, prob, args.repeat)
        # pgmpy is timed on the agreement run plus one more (its runs take seconds)
        t_theirs = min(t_theirs, pgmpy_posteriors(net, prob)[1])
        print(
            f"{prob.name}: k={len(prob.pos)} diff={diff:.1e} b12dx={fmt_s(t_ours)} "
            f"pgmpy={fmt_s(t_theirs)}",
            file=sys.stderr,
            flush=True,
        )
        rows.append(
            {
                "case": prob.name,
                "present": len(prob.pos),
                "absent": len(prob.neg),
                "max_abs_diff": diff,
                "b12dx_s": t_ours,
                "pgmpy_s": t_theirs,
            }
        )

    rng = np.random.default_rng(args.seed)
    scaling = []
    pgmpy_alive = True
    for k in range(args.max_k + 1):
        prob = synthetic(net, kb, k, rng)
        t_ours = median_time(engine_posteriors, net, prob, args.repeat)
        row: dict[str, Any] = {"k": k, "b12dx_s": t_ours, "pgmpy_s": None, "max_abs_diff": None}
        if pgmpy_alive:
            theirs, t_theirs = pgmpy_posteriors(net, prob)
            ours, _ = engine_posteriors(net, prob)
            row["max_abs_diff"] = float(np.max(np.abs(ours - theirs)))
            worst = max(worst, row["max_abs_diff"])
            row["pgmpy_s"] = t_theirs
            pgmpy_alive = t_theirs <= args.budget
        print(f"k={k}: {row}", file=sys.stderr, flush=True)
        scaling.append(row)

    ratios = [r["pgmpy_s"] / r["b12dx_s"] for r in rows] or [float("nan")]
    print(
        f"Network: {net.n_causes} causes, {net.n_findings} findings; KB {kb.meta.version} "
        f"({kb.sha256[:12]}). Cases: {len(rows)} ({len(list(args.examples.glob('*.json')))} "
        f"examples + vignettes).\n"
    )
    print(
        f"Largest |posterior difference| over all cases and synthetic k: {worst:.2e} "
        f"(tolerance {TOL:g}).\n"
    )
    print("| measure | b12dx engine | pgmpy VariableElimination | ratio |")
    print("|---|---|---|---|")
    med_o = statistics.median([r["b12dx_s"] for r in rows] or [float("nan")])
    med_t = statistics.median([r["pgmpy_s"] for r in rows] or [float("nan")])
    print(
        f"| median single-case time over the cases | {fmt_s(med_o)} | {fmt_s(med_t)} | "
        f"{ratio(med_t, med_o)} |"
    )
    print(f"| ratio range over the cases | | | {min(ratios):.2g}x - {max(ratios):.4g}x |\n")
    print("| present findings k | b12dx | pgmpy | ratio | max abs diff |")
    print("|---|---|---|---|---|")
    for r in scaling:
        if r["pgmpy_s"] is None:
            print(
                f"| {r['k']} | {fmt_s(r['b12dx_s'])} | not run (previous k > "
                f"{args.budget:g} s) | - | - |"
            )
        else:
            print(
                f"| {r['k']} | {fmt_s(r['b12dx_s'])} | {fmt_s(r['pgmpy_s'])} | "
                f"{ratio(r['pgmpy_s'], r['b12dx_s'])} | {r['max_abs_diff']:.1e} |"
            )
    if args.json:
        args.json.write_text(
            json.dumps({"cases": rows, "scaling": scaling, "worst": worst}, indent=2)
        )
    if worst > TOL:
        print(f"\nDISAGREEMENT: {worst:.3e} > {TOL:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
