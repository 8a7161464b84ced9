"""The ``b12dx`` command line (Typer + Rich): a thin skin over ``b12dx.assess`` and friends.

Each command group lives in its own module under ``b12dx.cli`` and registers itself through a
``register(app)`` function; this module only assembles them and maps errors to exit codes
(2 for bad input, 1 for any other b12dx error) so that no traceback ever reaches the user.

Start-up time matters (a cold ``b12dx assess`` process should take well under a second), so
``main()`` registers only the module that provides the command being run when it can tell
which one that is; ``app`` (the full command tree: ``--help``, tests, docs) is built on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from ..errors import B12dxError
from ._common import fail, handles_errors

if TYPE_CHECKING:
    import typer

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

# Commands whose module is not named after them. Only a hint: main() checks that the module
# really registered the command and falls back to the full tree otherwise, so a stale entry
# costs speed, never correctness.
_MODULE_HINTS = {"explain": "assess", "synth": "screen", "evaluate-nlp": "parse"}

_HELP = (
    "Muscle cramps: vitamin B12 deficiency, electrolyte disturbance or something else? "
    "Decision support; it does not diagnose."
)


def _new_app() -> typer.Typer:
    import typer

    new = typer.Typer(
        name="b12dx",
        help=_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )

    # A group callback keeps the tree a group even when one module adds a single command
    # (Typer would otherwise run that command without its name).
    @new.callback()
    def _root() -> None:
        pass

    return new


def _register(target: typer.Typer, name: str) -> bool:
    """Let module ``name`` add its commands; False when that module is not part of this build."""
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            return False  # that command group is not part of this build
        raise
    module.register(target)
    return True


def _full_app() -> typer.Typer:
    full = _new_app()
    for name in COMMAND_MODULES:
        _register(full, name)
    return full


def _command_names(target: typer.Typer) -> set[str]:
    names = {g.name for g in target.registered_groups if g.name}
    for info in target.registered_commands:
        if info.name:
            names.add(info.name)
        elif info.callback is not None:
            names.add(info.callback.__name__.lower().replace("_", "-"))  # Typer's default name
    return names


def _app_for(args: list[str]) -> typer.Typer:
    """The smallest command tree that runs ``args``: one module when the command is known."""
    if args and not args[0].startswith("-"):
        command = args[0]
        module = _MODULE_HINTS.get(command, command)
        if module in COMMAND_MODULES:
            small = _new_app()
            if _register(small, module) and command in _command_names(small):
                return small
    return _get_app()


_app: typer.Typer | None = None


def _get_app() -> typer.Typer:
    global _app
    if _app is None:
        _app = _full_app()
    return _app


def __getattr__(name: str) -> typer.Typer:
    # ``app`` is built on first access (``from b12dx.cli import app`` works as usual).
    if name == "app":
        return _get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``b12dx`` command."""
    args = argv if argv is not None else sys.argv[1:]
    try:
        _app_for(args)(args=args, prog_name="b12dx", standalone_mode=True)
    except B12dxError as exc:
        fail(exc)
