"""The KB loader's fast paths give exactly what the plain ones give.

The first load parses TOML with tomli's compiled build when it is installed and falls back to the
standard library's ``tomllib``; the CLI registers only the module of the command being run. Both
are speed measures (``bench/core.py``), so these tests pin that nothing else changes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from b12dx.errors import KnowledgeBaseError
from b12dx.kb import load_kb

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "b12dx" / "knowledge"


@pytest.fixture(params=["tomli", "tomllib"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with tomli available, then as if it were not installed."""
    if request.param == "tomli":
        import tomli  # a core dependency: its absence is a failure, not a skip

        assert tomli.loads("a = 1") == {"a": 1}
    else:
        monkeypatch.setitem(sys.modules, "tomli", None)  # import tomli -> ImportError
    return str(request.param)


@pytest.fixture(scope="module")
def reference() -> tuple[str, str]:
    kb = load_kb(PACKAGED, fresh=True)
    return kb.sha256, kb.model_dump_json()


def test_either_parser_builds_the_same_kb(parser: str, reference: tuple[str, str]) -> None:
    kb = load_kb(PACKAGED, fresh=True)
    assert (kb.sha256, kb.model_dump_json()) == reference


def _broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(PACKAGED, folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_invalid_toml_is_reported_in_tomllib_words(parser: str, tmp_path: Path) -> None:
    import tomllib

    folder = _broken_copy(tmp_path, "causes.toml", "[[cause]]", "[[cause]\n")
    with pytest.raises(KnowledgeBaseError) as info:
        load_kb(folder, fresh=True)
    with pytest.raises(tomllib.TOMLDecodeError) as std:
        tomllib.loads((folder / "causes.toml").read_text(encoding="utf-8"))
    assert [(i.where, i.message) for i in info.value.issues] == [
        ("causes.toml", f"not valid TOML: {std.value}")
    ]


def test_cross_reference_problems_are_all_reported_with_their_place(tmp_path: Path) -> None:
    folder = _broken_copy(tmp_path, "links.toml", 'sources = ["', 'sources = ["no-such-source", "')
    text = (folder / "links.toml").read_text(encoding="utf-8")
    (folder / "links.toml").write_text(
        text.replace('sources = ["', 'sources = ["other-missing", "', 2), encoding="utf-8"
    )
    with pytest.raises(KnowledgeBaseError) as info:
        load_kb(folder, fresh=True)
    issues = [(i.where, i.message) for i in info.value.issues]
    assert len(issues) == 3
    assert all(where.startswith(("links[0]", "links[1]")) for where, _ in issues)
    assert {m for _, m in issues} == {
        "unknown source 'no-such-source'",
        "unknown source 'other-missing'",
    }


def test_every_command_runs_from_its_own_small_tree() -> None:
    from b12dx.cli import _app_for, _command_names, app

    for name in sorted(_command_names(app)):
        small = _app_for([name])
        assert name in _command_names(small), name
        # the small tree is smaller than the whole one: only that command's module was registered
        assert small is not app, f"{name!r} falls back to the full tree (update _MODULE_HINTS)"


@pytest.mark.parametrize("args", [[], ["--help"], ["no-such-command"]])
def test_help_and_unknown_commands_get_the_full_tree(args: list[str]) -> None:
    from b12dx.cli import _app_for, app

    assert _app_for(args) is app
