"""Errors raised by b12dx.

Every error b12dx raises on purpose derives from one root, so callers can catch "any b12dx
error" in one place::

    B12dxError                      exit code 1, HTTP 500
    ├── InputError                  exit code 2, HTTP 422: the caller's input is wrong
    │   ├── UnknownIdError          an id, code or name that is not in the knowledge base
    │   ├── UnitError               a unit that is not accepted for that lab test
    │   ├── ImplausibleValueError   a value outside the physiologically plausible range
    │   ├── ConflictError           duplicate or contradictory evidence
    │   └── OutOfScopeError         a person b12dx does not assess (under 16s)
    ├── KnowledgeBaseError          the knowledge base failed validation (carries every issue)
    └── MissingExtraError           exit code 1, HTTP 501: an optional extra is not installed

Messages say what was wrong, where, and what is accepted, so that the CLI, the HTTP service and
the batch rejects file can show them unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "B12dxError",
    "ConflictError",
    "ImplausibleValueError",
    "InputError",
    "Issue",
    "KnowledgeBaseError",
    "MissingExtraError",
    "OutOfScopeError",
    "UnitError",
    "UnknownIdError",
    "did_you_mean",
]


class B12dxError(Exception):
    """Base class for every error raised by b12dx."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class InputError(B12dxError):
    """The input (a Case, a CLI option, a request body or a batch row) is not acceptable."""

    exit_code = 2
    http_status = 422


def did_you_mean(value: str, choices: Iterable[str], *, n: int = 3) -> list[str]:
    """Close matches for *value* among *choices*, best first."""
    pool = list(choices)
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.6)
    found = [lowered[h] for h in hits]
    if not found:
        found = [c for c in pool if value.lower() in c.lower()][:n]
    return found


class UnknownIdError(InputError):
    """An id that the knowledge base does not define."""

    def __init__(
        self,
        kind: str,
        value: str,
        choices: Iterable[str],
        *,
        where: str | None = None,
        listing: str | None = None,
    ) -> None:
        self.kind = kind
        self.value = value
        self.suggestions = did_you_mean(value, choices)
        msg = f"unknown {kind} {value!r}."
        if self.suggestions:
            msg += " Did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        if listing:
            msg += f" Run `{listing}` to list them."
        super().__init__(msg, where=where)


class UnitError(InputError):
    """A lab unit that is not accepted for that test."""

    def __init__(
        self, test: str, unit: str, accepted: Sequence[str], *, where: str | None = None
    ) -> None:
        self.test = test
        self.unit = unit
        self.accepted = list(accepted)
        super().__init__(
            f"unit {unit!r} is not accepted for {test}; accepted units: {', '.join(accepted)}",
            where=where,
        )


class ImplausibleValueError(InputError):
    """A value outside the range a living adult can have."""

    def __init__(
        self,
        what: str,
        value: float,
        low: float,
        high: float,
        unit: str,
        *,
        where: str | None = None,
    ) -> None:
        self.value = value
        self.low = low
        self.high = high
        super().__init__(
            f"{what} of {value:g} {unit} is implausible; the plausible range is "
            f"{low:g} to {high:g} {unit}",
            where=where,
        )


class ConflictError(InputError):
    """The same evidence given twice, or contradictory answers."""


class OutOfScopeError(InputError):
    """A person b12dx is not built to assess (for example a child)."""


@dataclass(frozen=True)
class Issue:
    """One problem found while validating the knowledge base."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class KnowledgeBaseError(B12dxError):
    """The knowledge base is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  - {i}" for i in self.issues)
        super().__init__(f"the knowledge base has {len(self.issues)} problem(s):\n{lines}")


class MissingExtraError(B12dxError):
    """An optional dependency is missing; the message names the extra to install."""

    http_status = 501  # the feature is not available in this installation

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency {module!r}; "
            f"install it with: pip install 'b12dx[{extra}]'"
        )
