from __future__ import annotations

import inspect

import b12dx


def test_all_is_sorted_and_lists_every_public_name():
    public = {
        name
        for name, value in vars(b12dx).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert sorted(b12dx.__all__, key=str.lower) == sorted(set(b12dx.__all__), key=str.lower)
    assert public | {"__version__"} == set(b12dx.__all__)


def test_docstring_example_runs():
    import doctest

    assert doctest.testmod(b12dx, raise_on_error=True).attempted >= 1
