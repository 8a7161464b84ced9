"""The ``b12dx`` command line (Typer + Rich): a thin skin over ``b12dx.assess`` and friends.

Each command group lives in its own module under ``b12dx.cli`` and registers itself through a
``register(app)`` function; this module only assembles them and maps errors to exit codes
(2 for bad input, 1 for any other b12dx error) so that no traceback ever reaches the user.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ..errors import B12dxError
from ._common import fail, handles_errors

__all__ = ["app", "fail", "handles_errors", "main"]

# Modules under b12dx.cli that add commands; each exposes ``register(app: typer.Typer)``.
COMMAND_MODULES = (
    "assess",
    "kb",
    "demo",
    "evaluate",
    "interview",
    "serve",
    "screen",
    "record",
    "parse",
)

app = typer.Typer(
    name="b12dx",
    help="Muscle cramps: vitamin B12 deficiency, electrolyte disturbance or something else? "
    "Decision support; it does not diagnose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # that command group is not part of this build
            raise
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``b12dx`` command."""
    try:
        app(
            args=argv if argv is not None else sys.argv[1:], prog_name="b12dx", standalone_mode=True
        )
    except B12dxError as exc:
        fail(exc)
