"""Core speed: KB load + compile, assess() per case, and a cold `b12dx assess` process.

Run: .venv/bin/python bench/core.py [--repeat N]   (prints a Markdown table for docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def kb_load_ms(repeat: int) -> list[float]:
    code = (
        "import time; t=time.perf_counter(); from b12dx.kb import load_kb; "
        "from b12dx.engine import compile_network; kb=load_kb(); compile_network(kb); "
        "print((time.perf_counter()-t)*1000)"
    )
    out = []
    for _ in range(repeat):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(r.stdout.strip()))
    return out


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


def cold_process_s(repeat: int) -> list[float]:
    exe = str(Path(sys.executable).with_name("b12dx"))
    example = sorted((ROOT / "examples").glob("*.json"))[0]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([exe, "assess", str(example)], capture_output=True, check=True)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    load = kb_load_ms(max(5, args.repeat // 10))
    per_case = assess_ms(args.repeat)
    cold = cold_process_s(max(5, args.repeat // 5))
    allv = list(per_case.values())
    print("| measure | value | target |")
    print("|---|---|---|")
    print(
        f"| KB load + compile (median of {len(load)} fresh processes) | "
        f"{statistics.median(load):.1f} ms | ≤ 100 ms |"
    )
    print(
        f"| assess() median over {len(per_case)} examples (median of per-example medians) | "
        f"{statistics.median(allv):.2f} ms (max {max(allv):.2f} ms) | ≤ 2 ms |"
    )
    print(
        f"| cold `b12dx assess examples/…json` process (median of {len(cold)}) | "
        f"{statistics.median(cold):.3f} s | ≤ 0.6 s |"
    )
    print()
    print("| example | assess() median (ms) |")
    print("|---|---|")
    for k, v in per_case.items():
        print(f"| {k} | {v:.2f} |")


if __name__ == "__main__":
    main()
