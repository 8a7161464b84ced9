"""``b12dx synth``: a seeded synthetic population in the screening table's schema."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":  # in CI a missing extra must fail, not skip
    pytest.importorskip("pyarrow", reason="needs the 'screen' extra")
import pyarrow.parquet as pq
from typer.testing import CliRunner

from b12dx.cli import app
from b12dx.kb import KnowledgeBase
from b12dx.screen.schema import screen_schema
from b12dx.screen.synth import load_spec, write_synth


def test_same_seed_same_people(kb: KnowledgeBase, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    write_synth(3_000, a, kb, seed=5)
    write_synth(3_000, b, kb, seed=5)
    write_synth(3_000, c, kb, seed=6)
    ta, tb, tc = pq.read_table(a), pq.read_table(b), pq.read_table(c)
    assert ta.equals(tb)
    assert not ta.equals(tc)
    assert ta.num_rows == 3_000
    schema = screen_schema(kb)
    assert set(ta.column_names) <= set(schema.names)
    for name in ta.column_names:
        want = schema.by_name[name].type
        assert (
            str(ta.schema.field(name).type)
            in {
                "string": {"string"},
                "float64": {"double"},
                "bool": {"bool"},
                "date32": {"date32[day]"},
            }[want]
        )


def test_population_shape_follows_the_spec(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    write_synth(20_000, path, kb, seed=1, as_of=dt.date(2026, 1, 1))
    t = pq.read_table(path).to_pydict()
    spec = load_spec(kb)
    female = sum(s == "female" for s in t["sex"]) / 20_000
    assert abs(female - spec.female.value) < 0.02
    tested = sum(v is not None for v in t["b12_total"]) / 20_000
    b12 = next(lab for lab in spec.labs if lab.test == "b12_total")
    assert abs(tested - b12.tested.value) < 0.02
    assert min(d for d in t["b12_total_date"] if d is not None) >= dt.date(2023, 1, 1)
    assert any(a is not None and a < kb.meta.min_age.value for a in t["age"])  # defect rows


def test_cli_synth_then_screen(kb: KnowledgeBase, tmp_path: Path) -> None:
    runner = CliRunner()
    people = tmp_path / "people.csv"
    res = runner.invoke(app, ["synth", "1500", "-o", str(people), "--seed", "2"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out.parquet"
    res = runner.invoke(
        app, ["screen", str(people), "-o", str(out), "--no-progress", "--as-of", "2026-01-01"]
    )
    assert res.exit_code == 0, res.output
    assert "screened" in res.output
    assert pq.read_table(out).num_rows > 1400
    assert (tmp_path / "out.report.html").exists()
    bad = runner.invoke(app, ["synth", "10", "-o", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["s3://bucket/people.parquet", "-o", "out.parquet"],
        ["people.parquet", "-o", "hdfs://nn/out"],
    ],
)
def test_cli_local_engine_refuses_uris(args: list[str]) -> None:
    res = CliRunner().invoke(app, ["screen", *args, "--no-progress"])
    assert res.exit_code == 2
    assert "only --engine spark reads or writes URIs" in res.output
