"""Timeline plots of one person's records (matplotlib; PNG or SVG bytes).

Panels, top to bottom: one per lab test that has results (B12, MMA, haemoglobin by default),
each with the KB's interpretation bands drawn behind the points (abnormal bands tinted), then
the symptom diary (cramp episodes per week as bars, worst severity 0-10 as a line). Treatment
courses are shaded across every panel. The figure uses matplotlib's object API (no pyplot, no
global state), so plots can be drawn from several threads of the web service at once.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any, Literal

from .kb import Band, KnowledgeBase, LabTest, load_kb
from .store.records import EARLIEST, LATEST, Timeline

__all__ = ["DEFAULT_TESTS", "PlotFormat", "plot_timeline"]

PlotFormat = Literal["png", "svg"]
DEFAULT_TESTS = ("b12_total", "mma", "haemoglobin")

_TREATMENT_COLOUR = "#4c78a8"
_ABNORMAL_COLOUR = "#e45756"
_NORMAL_COLOUR = "#54a24b"
_CRAMPS_COLOUR = "#72b7b2"
_SEVERITY_COLOUR = "#b279a2"


def _bands_for(test: LabTest, sex: str | None, pregnant: bool) -> list[Band]:
    sexes = ("any", sex) if sex else ("any", "female")
    return [
        b for b in test.bands if b.sex in sexes and (b.pregnant is None or b.pregnant == pregnant)
    ]


def plot_timeline(
    tl: Timeline,
    *,
    fmt: PlotFormat = "png",
    kb: KnowledgeBase | None = None,
    tests: Sequence[str] = DEFAULT_TESTS,
    as_of: dt.date | None = None,
    width: float = 9.0,
    dpi: int = 110,
) -> bytes:
    """Draw the timeline of *tl* and return the image as PNG or SVG bytes."""
    try:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        from .errors import MissingExtraError

        raise MissingExtraError("plots", "store", exc.name or "matplotlib") from None
    from .labs import convert

    kb = kb or load_kb()
    if fmt not in ("png", "svg"):
        from .errors import InputError

        raise InputError(f"plot format {fmt!r} is not supported; use png or svg", where="format")
    if as_of is not None and not EARLIEST <= as_of <= LATEST:
        from .errors import InputError

        raise InputError(f"date {as_of.isoformat()} is out of range", where="as_of")
    person = tl.person
    series: list[tuple[LabTest, list[dt.date], list[float]]] = []
    for test_id in tests:
        test = kb.lab_by_id.get(test_id)
        rows = [lab for lab in tl.labs if lab.test == test_id]
        if test is None or not rows:
            continue
        series.append(
            (test, [r.date for r in rows], [convert(test, r.value, r.unit) for r in rows])
        )
    diary = list(tl.symptoms)
    panels = len(series) + 1
    fig = Figure(figsize=(width, 1.0 + 2.0 * panels), dpi=dpi, layout="constrained")
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]

    dates: list[dt.date] = [d for _, ds, _ in series for d in ds] + [s.date for s in diary]
    dates += [t.started_on for t in tl.treatments]
    end = as_of or (max(dates) if dates else dt.date.today())
    start = min(dates) if dates else end - dt.timedelta(days=30)
    if start >= end:
        start = end - dt.timedelta(days=30)

    for ax, (test, ds, vs) in zip(axes, series, strict=False):
        _draw_bands(ax, _bands_for(test, person.sex, person.pregnant), vs)
        ax.plot(ds, vs, marker="o", color="black", linewidth=1.2, zorder=3)
        ax.set_ylabel(f"{test.name}\n({test.unit})", fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    ax = axes[-1]
    if diary:
        cramp_days = [s.date for s in diary if s.cramps_per_week is not None]
        cramps = [s.cramps_per_week for s in diary if s.cramps_per_week is not None]
        ax.bar(cramp_days, cramps, width=3, color=_CRAMPS_COLOUR, label="cramp episodes / week")
        ax.set_ylabel("cramp episodes\nper week", fontsize=8)
        sev_days = [s.date for s in diary if s.worst_severity is not None]
        sev = [s.worst_severity for s in diary if s.worst_severity is not None]
        twin = ax.twinx()
        twin.plot(sev_days, sev, marker="s", color=_SEVERITY_COLOUR, label="worst severity")
        twin.set_ylim(0, 10.5)
        twin.set_ylabel("worst severity\n(0-10)", fontsize=8)
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper right", fontsize=7)
    else:
        ax.text(
            0.5,
            0.5,
            "no symptom diary entries",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=9,
            color="grey",
        )
        ax.set_yticks([])

    for t in tl.treatments:
        stop = t.stopped_on or end
        for a in axes:
            a.axvspan(t.started_on, stop, color=_TREATMENT_COLOUR, alpha=0.12, zorder=0)
        axes[0].annotate(
            f"{t.product} {t.dose} {t.frequency}",
            xy=(t.started_on, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            va="bottom",
            color=_TREATMENT_COLOUR,
        )
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlim(start - dt.timedelta(days=3), end + dt.timedelta(days=3))
    fig.suptitle(f"{person.ref}: labs, symptoms and treatment (shaded)", fontsize=10)

    buf = io.BytesIO()
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    if fmt == "svg":
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": "b12dx", "svg.fonttype": "none"}):
            fig.savefig(buf, format="svg", metadata=metadata)
    else:
        fig.savefig(buf, format="png", metadata=metadata)
    return buf.getvalue()


def _draw_bands(ax: Any, bands: Sequence[Band], values: Sequence[float]) -> None:
    """Shade each band between its limits; open ends reach just past the data."""
    edges = [e for b in bands for e in (b.lower, b.upper) if e is not None]
    lo = min([*values, *edges]) if (values or edges) else 0.0
    hi = max([*values, *edges]) if (values or edges) else 1.0
    pad = (hi - lo) * 0.15 or 1.0
    floor, ceil = max(0.0, lo - pad), hi + pad
    for b in bands:
        low = b.lower if b.lower is not None else floor
        high = b.upper if b.upper is not None else ceil
        ax.axhspan(
            low,
            high,
            color=_ABNORMAL_COLOUR if b.abnormal else _NORMAL_COLOUR,
            alpha=0.10,
            zorder=0,
            linewidth=0,
        )
        ax.text(
            1.005,
            (low + high) / 2,
            b.label,
            transform=ax.get_yaxis_transform(),
            fontsize=6,
            va="center",
            ha="left",
            color="dimgrey",
            clip_on=False,
        )
    ax.set_ylim(floor, ceil)
