"""Core speed: imports, KB load + compile, assess() per example, and cold `b12dx assess` processes.

Run: .venv/bin/python bench/core.py [--repeat N]   (prints Markdown tables for docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed_child(code: str, repeat: int, env: dict[str, str] | None = None) -> list[float]:
    out = []
    for _ in range(repeat):
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        out.append(float(r.stdout.strip()))
    return out


def import_ms(repeat: int) -> list[float]:
    code = (
        "import time; t=time.perf_counter(); import b12dx.cli; print((time.perf_counter()-t)*1e3)"
    )
    return _timed_child(code, repeat)


def import_profile_ms(repeat: int) -> dict[str, float]:
    """What a cold `b12dx assess` imports, by top-level package (median self time over runs).

    ``python -X importtime`` in a fresh process importing what the assess path imports: the CLI
    and its assess command, the whole assessment stack and the text renderer.
    """
    code = "import b12dx.cli, b12dx.cli.assess, b12dx.assessment, b12dx.render.text"
    runs: list[dict[str, float]] = []
    for _ in range(repeat):
        r = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=True,
        )
        per: dict[str, float] = {}
        for line in r.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            _, self_us, _, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
            top = name.split(".")[0]
            if top == "b12dx":  # the project's own modules, one by one
                top = ".".join(name.split(".")[:2])
            per[top] = per.get(top, 0.0) + float(self_us) / 1000
        runs.append(per)
    keys = set().union(*runs)
    return {k: statistics.median(run.get(k, 0.0) for run in runs) for k in keys}


def kb_load_ms(repeat: int, *, cache: bool) -> list[float]:
    """Load + compile in a fresh process, after the imports (measured separately)."""
    code = (
        "import time; from b12dx.kb import load_kb; from b12dx.engine import compile_network; "
        "t=time.perf_counter(); kb=load_kb(); compile_network(kb); "
        "print((time.perf_counter()-t)*1e3)"
    )
    env = {**os.environ, **({} if cache else {"B12DX_CACHE_DIR": "off"})}
    return _timed_child(code, repeat, env)


def assess_ms(repeat: int) -> dict[str, float]:
    from b12dx import assess
    from b12dx.kb import load_kb

    kb = load_kb()
    medians = {}
    for path in sorted((ROOT / "examples").glob("*.json")):
        case = json.loads(path.read_text())
        assess(case, kb=kb)  # warm
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            assess(case, kb=kb)
            times.append((time.perf_counter() - t) * 1000)
        medians[path.stem] = statistics.median(times)
    return medians


def cold_process_s(repeat: int) -> dict[str, float]:
    """Median wall time of a whole `b12dx assess FILE` process, per example."""
    exe = str(Path(sys.executable).with_name("b12dx"))
    out = {}
    for example in sorted((ROOT / "examples").glob("*.json")):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([exe, "assess", str(example)], capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        out[example.stem] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    n = max(5, args.repeat // 10)
    imports = statistics.median(import_ms(n))
    load = statistics.median(kb_load_ms(n, cache=True))
    fresh = statistics.median(kb_load_ms(n, cache=False))
    per_case = assess_ms(args.repeat)
    cold = cold_process_s(3)
    allv, coldv = list(per_case.values()), list(cold.values())
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| `import b12dx.cli` (median of {n} fresh processes) | {imports:.0f} ms | — |")
    print(
        f"| KB load + compile, content-hash cache warm (median of {n}) | {load:.1f} ms | ≤ 100 ms |"
    )
    print(
        f"| KB load + compile, first load: parse TOML + validate (median of {n}) | "
        f"{fresh:.1f} ms | ≤ 100 ms |"
    )
    print(
        f"| assess() median over {len(per_case)} examples (median of per-example medians of "
        f"{args.repeat}) | {statistics.median(allv):.2f} ms (max {max(allv):.1f} ms) | ≤ 2 ms |"
    )
    print(
        f"| cold `b12dx assess examples/…json` process (median over {len(cold)} examples, "
        f"3 runs each) | {statistics.median(coldv):.2f} s (max {max(coldv):.2f} s) | ≤ 0.6 s |"
    )
    profile = import_profile_ms(n)
    total = sum(profile.values())
    groups = {
        "b12dx (own modules)": sum(v for k, v in profile.items() if k.startswith("b12dx")),
        "numpy": profile.get("numpy", 0.0),
        "pydantic + pydantic_core + annotated_types": sum(
            profile.get(k, 0.0) for k in ("pydantic", "pydantic_core", "annotated_types")
        ),
        "rich": profile.get("rich", 0.0),
        "typer (with its click)": profile.get("typer", 0.0) + profile.get("click", 0.0),
    }
    groups["everything else (stdlib, yaml, …)"] = total - sum(groups.values())
    print()
    print(f"Import-time profile of the assess path (self time, median of {n}): {total:.0f} ms")
    print()
    print("| package | ms |")
    print("|---|---|")
    for k, v in groups.items():
        print(f"| {k} | {v:.0f} |")
    own = sorted(
        ((k, v) for k, v in profile.items() if k.startswith("b12dx")), key=lambda kv: -kv[1]
    )
    print("| largest own modules | " + ", ".join(f"`{k}` {v:.0f}" for k, v in own[:6]) + " |")
    print()
    print("| example | assess() median (ms) | cold process (s) |")
    print("|---|---|---|")
    for k, v in per_case.items():
        print(f"| {k} | {v:.2f} | {cold[k]:.2f} |")


if __name__ == "__main__":
    main()
