"""Shared assertion for screening outputs (local engine, Spark, the direct kernel)."""

from __future__ import annotations

import pyarrow as pa
import pytest


def assert_same_columns(got: pa.Table, want: pa.Table) -> None:
    """Every column of *want* equal in *got*; probabilities to 1e-12 (BLAS may round the last
    bit differently per batch shape)."""
    for name in want.column_names:
        a, b = got.column(name).to_pylist(), want.column(name).to_pylist()
        if name.startswith("p_"):
            assert a == pytest.approx(b, abs=1e-12), name
        else:
            assert a == b, name
