"""Summary counts of a screening run, computed per chunk and merged (for the HTML report).

Counts are additive, so a resumed run merges the saved per-chunk counts and gets exactly the
counts of an uninterrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["HIST_BINS", "Group", "Stats"]

HIST_BINS = 20  # equal-width bins of the focus cause's probability, 0 to 1


@dataclass
class Group:
    """People in one risk group: how many, sum of P(focus cause), any flag, urgent triage."""

    people: int = 0
    p_sum: float = 0.0
    flagged: int = 0
    urgent: int = 0

    def merge(self, other: Group) -> Group:
        return Group(
            self.people + other.people,
            self.p_sum + other.p_sum,
            self.flagged + other.flagged,
            self.urgent + other.urgent,
        )

    @property
    def mean_p(self) -> float:
        return self.p_sum / self.people if self.people else 0.0


@dataclass
class Stats:
    screened: int = 0
    rejected: int = 0
    triage: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    top_cause: dict[str, int] = field(default_factory=dict)
    next_test: dict[str, int] = field(default_factory=dict)
    hist: list[int] = field(default_factory=lambda: [0] * HIST_BINS)
    groups: dict[str, dict[str, Group]] = field(default_factory=dict)

    @classmethod
    def empty(cls, kernel: Kernel) -> Stats:
        del kernel
        return cls()

    def merge(self, other: Stats) -> Stats:
        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + v
            return out

        groups: dict[str, dict[str, Group]] = {k: dict(v) for k, v in self.groups.items()}
        for kind, members in other.groups.items():
            mine = groups.setdefault(kind, {})
            for name, g in members.items():
                mine[name] = mine.get(name, Group()).merge(g)
        return Stats(
            self.screened + other.screened,
            self.rejected + other.rejected,
            add(self.triage, other.triage),
            add(self.flags, other.flags),
            add(self.top_cause, other.top_cause),
            add(self.next_test, other.next_test),
            [a + b for a, b in zip(self.hist, other.hist, strict=True)],
            groups,
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "screened": self.screened,
            "rejected": self.rejected,
            "triage": self.triage,
            "flags": self.flags,
            "top_cause": self.top_cause,
            "next_test": self.next_test,
            "hist": self.hist,
            "groups": {
                k: {n: [g.people, g.p_sum, g.flagged, g.urgent] for n, g in v.items()}
                for k, v in self.groups.items()
            },
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Stats:
        d = json.loads(text)
        groups = {
            k: {n: Group(int(g[0]), float(g[1]), int(g[2]), int(g[3])) for n, g in v.items()}
            for k, v in d["groups"].items()
        }
        return cls(
            d["screened"],
            d["rejected"],
            d["triage"],
            d["flags"],
            d["top_cause"],
            d["next_test"],
            d["hist"],
            groups,
        )


def index_counts(names: Sequence[str], idx: npt.NDArray[np.int64]) -> dict[str, int]:
    """Counts of ``names[i]`` over the indexes ``idx`` (-1 counts as "none"); zeros left out."""
    counts = np.bincount(np.asarray(idx) + 1, minlength=len(names) + 1)
    keys = ["none", *names]
    return {keys[i]: int(c) for i, c in enumerate(counts.tolist()) if c}


def chunk_stats(
    *,
    rejected: int,
    levels: dict[str, int],
    top: dict[str, int],
    next_tests: dict[str, int],
    flag_masks: dict[str, npt.NDArray[np.bool_]],
    p_focus: npt.NDArray[np.float64],
    groups: dict[str, dict[str, npt.NDArray[np.bool_]]],
    urgent: npt.NDArray[np.bool_],
) -> Stats:
    n = sum(levels.values())
    any_flag = (
        np.logical_or.reduce(list(flag_masks.values())) if flag_masks else np.zeros(n, np.bool_)
    )
    hist, _ = np.histogram(p_focus, bins=HIST_BINS, range=(0.0, 1.0))
    out_groups: dict[str, dict[str, Group]] = {}
    for kind, members in groups.items():
        out_groups[kind] = {
            name: Group(
                int(m.sum()),
                float(p_focus[m].sum()),
                int((any_flag & m).sum()),
                int((urgent & m).sum()),
            )
            for name, m in members.items()
        }
    return Stats(
        screened=n,
        rejected=rejected,
        triage=levels,
        flags={k: int(v.sum()) for k, v in flag_masks.items()},
        top_cause=top,
        next_test=next_tests,
        hist=[int(h) for h in hist],
        groups=out_groups,
    )
