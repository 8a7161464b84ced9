"""The screening run's summary report: one self-contained HTML file with matplotlib plots.

People by triage level and by flag, the distribution of P(focus cause), the top risk groups (by
medicine, age band and diet) and the run's parameters with the KB version. Plots are drawn with
``matplotlib.figure.Figure`` (no pyplot global state) and embedded as PNG data URIs.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..kb import KnowledgeBase
from ..triage import LEVELS
from .stats import HIST_BINS, Group, Stats

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["render_report", "write_report"]


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")  # type: ignore[attr-defined]
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _bar(labels: list[str], values: Sequence[float], *, title: str, xlabel: str) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 0.45 * max(len(labels), 2) + 1))
    ax = fig.add_subplot()
    ax.barh(labels[::-1], values[::-1], color="#3b6ea5")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:,.0f}" if v >= 1 else f" {v:.2f}", va="center", fontsize=8)
    return _png(fig)


def _hist(counts: list[int], *, title: str) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    width = 1.0 / HIST_BINS
    ax.bar(
        [i * width for i in range(HIST_BINS)],
        counts,
        width=width,
        align="edge",
        color="#a53b3b",
        edgecolor="white",
    )
    ax.set_yscale("symlog")
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior probability")
    ax.set_ylabel("people")
    ax.set_title(title)
    return _png(fig)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(
    stats: Stats, *, kb: KnowledgeBase, kernel: Kernel, params: dict[str, str]
) -> str:
    rules = kernel.rules
    focus = kb.cause_by_id[rules.report.focus_cause].name
    levels = [lv for lv in LEVELS]
    level_counts = [stats.triage.get(lv, 0) for lv in levels]
    flag_labels = [f.label for f in rules.flags]
    flag_counts = [stats.flags.get(f.id, 0) for f in rules.flags]
    parts: list[str] = []
    parts.append(
        f"<h1>b12dx screening report</h1><p class=lead>{stats.screened:,} people "
        f"screened, {stats.rejected:,} rows rejected (see the rejects file). "
        "Decision support for finding people to review; it does not diagnose.</p>"
    )
    parts.append("<h2>People by triage level</h2>")
    img = _bar(levels, level_counts, title="Triage level", xlabel="people")
    parts.append(f"<img alt='people by triage level' src='{img}'>")
    parts.append("<h2>People by flag</h2>")
    img = _bar(flag_labels, flag_counts, title="Guideline flags", xlabel="people")
    parts.append(f"<img alt='people by flag' src='{img}'>")
    parts.append(
        _table(
            ["flag", "people", "definition", "sources"],
            [
                [f.label, f"{stats.flags.get(f.id, 0):,}", f.text, ", ".join(f.sources)]
                for f in rules.flags
            ],
        )
    )
    parts.append(f"<h2>Distribution of P({html.escape(focus)})</h2>")
    parts.append(f"<img alt='distribution' src='{_hist(stats.hist, title=f'P({focus})')}'>")
    parts.append(
        "<h2>Top risk groups</h2><p>Groups ranked by mean "
        f"P({html.escape(focus)}); 'urgent' counts people triaged "
        f"{', '.join(rules.report.urgent_levels)}.</p>"
    )
    for kind, members in stats.groups.items():
        ranked: list[tuple[str, Group]] = sorted(
            ((n, g) for n, g in members.items() if g.people), key=lambda ng: -ng[1].mean_p
        )
        if not ranked:
            continue
        parts.append(f"<h3>By {html.escape(kind)}</h3>")
        parts.append(
            f"<img alt='groups by {html.escape(kind)}' src='"
            + _bar(
                [n for n, _ in ranked],
                [g.mean_p for _, g in ranked],
                title=f"Mean P({focus}) by {kind}",
                xlabel="mean probability",
            )
            + "'>"
        )
        parts.append(
            _table(
                ["group", "people", f"mean P({focus})", "any flag", "urgent"],
                [
                    [n, f"{g.people:,}", f"{g.mean_p:.3f}", f"{g.flagged:,}", f"{g.urgent:,}"]
                    for n, g in ranked
                ],
            )
        )
    parts.append("<h2>Top causes and next tests</h2>")
    tops = sorted(stats.top_cause.items(), key=lambda kv: -kv[1])
    parts.append(
        _table(
            ["top cause", "people"],
            [[kb.cause_by_id[c].name if c in kb.cause_by_id else c, f"{n:,}"] for c, n in tops],
        )
    )
    tests = sorted(stats.next_test.items(), key=lambda kv: -kv[1])
    parts.append(
        _table(
            ["recommended next test", "people"],
            [[kb.lab_by_id[t].name if t in kb.lab_by_id else t, f"{n:,}"] for t, n in tests],
        )
    )
    parts.append("<h2>Run</h2>")
    meta = dict(params)
    meta.update(
        {
            "KB version": kb.version,
            "KB sha256": kb.sha256,
            "screening rules version": rules.version,
            "screening rules sha256": rules.sha256,
        }
    )
    parts.append(_table(["parameter", "value"], [[k, v] for k, v in meta.items()]))
    parts.append(f"<p class=small>{html.escape(kb.meta.disclaimer)}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}table{border-collapse:collapse;margin:1rem 0}"
        "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;"
        "vertical-align:top}img{max-width:100%}.lead{font-size:1.1rem}"
        ".small{font-size:.85rem;color:#555}"
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>b12dx screening report</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )


def write_report(
    path: Path, stats: Stats, *, kb: KnowledgeBase, kernel: Kernel, params: dict[str, str]
) -> None:
    path.write_text(render_report(stats, kb=kb, kernel=kernel, params=params), "utf-8")
