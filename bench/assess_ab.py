"""A/B helper for assess(): one line of per-example medians, for alternating runs of two trees.

Run from each tree in turn (the other tree via ``PYTHONPATH=other/src``), so that both measure the
same examples while the machine's speed drifts:

    .venv/bin/python bench/assess_ab.py [--calls 60] [--warm 20]

Prints the median of ``--calls`` timed calls per bundled example, then the median over examples.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--warm", type=int, default=20)
    args = parser.parse_args()

    from b12dx import assess
    from b12dx.case import parse_case
    from b12dx.kb import load_kb

    kb = load_kb()
    medians: list[float] = []
    for path in sorted(EXAMPLES.glob("*.json")):
        case = parse_case(json.loads(path.read_text()))
        for _ in range(args.warm):
            assess(case, kb=kb)
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            assess(case, kb=kb)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times) * 1000)
    cells = " ".join(f"{m:.2f}" for m in medians)
    print(f"{cells} median {statistics.median(medians):.2f} ms")


if __name__ == "__main__":
    main()
