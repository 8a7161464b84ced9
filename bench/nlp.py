"""Free-text intake speed: pipeline build (first parse), then parses per text on the
evaluation descriptions and on adversarial 10,000-character inputs.

Run: .venv/bin/python bench/nlp.py [--repeat N]   (prints a Markdown table for docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from b12dx.kb import load_kb
    from b12dx.nlp import parse_text
    from b12dx.nlp.evaluate import load_cases

    kb = load_kb()
    t = time.perf_counter()
    parse_text("warm-up", kb=kb)
    build_ms = (time.perf_counter() - t) * 1000

    texts = [c.text for c in load_cases(ROOT / "tests" / "nlp_cases")]
    per_text: list[float] = []
    for _ in range(args.repeat):
        for text in texts:
            t = time.perf_counter()
            parse_text(text, kb=kb)
            per_text.append((time.perf_counter() - t) * 1000)
    chars = statistics.mean(len(x) for x in texts)

    adversarial = {
        "10,000 x '0'": "0" * 10_000,
        "'no ' x 3,333": ("no " * 3_334)[:10_000],
        "'cramp ' x 1,666": ("cramp " * 1_667)[:10_000],
        "'B12 150 pg/mL ' x 714": ("B12 150 pg/mL " * 715)[:10_000],
    }
    adv_ms = {}
    for name, text in adversarial.items():
        t = time.perf_counter()
        parse_text(text, kb=kb)
        adv_ms[name] = (time.perf_counter() - t) * 1000

    q = statistics.quantiles(per_text, n=20)
    print("| measure | value |")
    print("|---|---|")
    print(f"| pipeline build + first parse | {build_ms:.0f} ms |")
    print(
        f"| parse, {len(texts)} evaluation texts (mean {chars:.0f} chars) x {args.repeat}: "
        f"median / p95 | {statistics.median(per_text):.1f} / {q[18]:.1f} ms |"
    )
    for name, ms in adv_ms.items():
        print(f"| parse, adversarial {name} | {ms:.0f} ms |")


if __name__ == "__main__":
    main()
