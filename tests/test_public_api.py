from __future__ import annotations

import b12dx


def test_all_is_sorted_and_complete():
    public = {n for n in dir(b12dx) if not n.startswith("_") and n not in {
        "annotations", "assessment", "case", "errors", "kb", "result", "context", "engine",
        "explain", "labs", "plan", "priors", "triage", "cli", "render", "schemas"}}
    assert b12dx.__all__ == sorted(b12dx.__all__, key=str.lower) or \
        b12dx.__all__ == sorted(b12dx.__all__)
    assert public <= set(b12dx.__all__) | {"__version__"}


def test_docstring_example_runs():
    import doctest

    assert doctest.testmod(b12dx, raise_on_error=True).attempted >= 1
