"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

from ..errors import B12dxError

__all__ = ["echo_out", "fail", "handles_errors"]

P = ParamSpec("P")
R = TypeVar("R")


def fail(exc: B12dxError) -> NoReturn:
    """Print a b12dx error without a traceback and exit with its code (2: bad input)."""
    sys.stderr.write(f"error: {exc}\n")
    raise SystemExit(exc.exit_code)


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn b12dx errors raised by a command into a message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except B12dxError as exc:
            fail(exc)

    return wrapper


def echo_out(text: str, output: str | None) -> None:
    """Write *text* to the file *output*, or to stdout when it is None or '-'."""
    if output in (None, "-"):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from pathlib import Path

    Path(output).write_text(text, encoding="utf-8")
