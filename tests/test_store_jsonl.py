"""Nothing lost: JSON Lines round trips (also SQLite → PostgreSQL) and SIGKILL mid-import."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from b12dx.store import LabIn, PersonIn, ReviewIn, SymptomsIn, TreatmentIn, open_store
from b12dx.store.jsonl import export_lines, import_lines
from b12dx.store.repo import Store

pytest_plugins = ("conftest_pg",)

D0 = dt.date(2024, 11, 4)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


def fill(store: Store) -> None:
    """A varied record set: every kind, awkward floats, text and nulls."""
    store.add_person(
        PersonIn(
            ref="a-1",
            sex="female",
            breastfeeding=True,
            conditions=["autoimmune_gastritis", "vegan_diet"],
        )
    )
    store.add_person(PersonIn(ref="b.2"))
    for i, (value, unit) in enumerate(
        [(0.1 + 0.2, "nmol/L"), (148.0, "pmol/L"), (1 / 3, "nmol/L")]
    ):
        test = "b12_total" if unit == "pmol/L" else "mma"
        unit = "umol/L" if test == "mma" else unit
        store.add_lab(
            "a-1",
            LabIn(
                test=test,
                value=value,
                unit=unit,
                date=D0 + dt.timedelta(days=i * 7),
                note="naïve “quote” \n newline" if i == 1 else None,
            ),
        )
    store.add_symptoms(
        "a-1", SymptomsIn(date=D0, cramps_per_week=6, worst_severity=8, tingling_numbness=3)
    )
    store.add_symptoms("a-1", SymptomsIn(date=D0 + dt.timedelta(days=60), cramps_per_week=1))
    store.start_treatment(
        "a-1",
        TreatmentIn(
            started_on=D0,
            route="intramuscular",
            product="hydroxocobalamin",
            dose="1 mg",
            frequency="alternate days",
            lifelong=True,
            note="neuro involvement",
        ),
    )
    store.stop_treatment("a-1", stopped_on=D0 + dt.timedelta(days=20), reason="switch")
    store.start_treatment(
        "b.2",
        TreatmentIn(
            started_on=D0,
            route="oral",
            product="cyanocobalamin",
            dose="50 micrograms",
            frequency="daily",
        ),
    )
    store.add_assessment(
        "a-1",
        {
            "triage": {"level": "consultation_24"},
            "differential": [{"id": "b12_deficiency", "p": 0.123456789}],
            "text": "ß",
        },
        day=D0,
    )
    store.add_review(
        "a-1", ReviewIn(date=D0 + dt.timedelta(days=90), outcome="improved", note="better")
    )


def test_export_import_round_trip_is_identical(store: Store, tmp_path: Path) -> None:
    fill(store)
    first = list(export_lines(store))
    target = open_store(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    report = import_lines(target, first)
    assert report.rejected == [] and report.added == len(first) - 1
    assert list(export_lines(target)) == first
    assert target.counts() == store.counts()
    target.close()


@pytest.mark.postgres
def test_round_trip_from_sqlite_to_postgresql_and_back(
    sqlite_url: str, pg_url: str, tmp_path: Path
) -> None:
    source = open_store(sqlite_url)
    fill(source)
    lines = list(export_lines(source))
    pg = open_store(pg_url)
    assert import_lines(pg, lines).rejected == []
    assert list(export_lines(pg)) == lines
    back = open_store(f"sqlite:///{tmp_path / 'back.sqlite3'}")
    import_lines(back, export_lines(pg))
    assert list(export_lines(back)) == lines
    for s in (source, pg, back):
        s.close()


def test_a_second_import_adds_nothing(store: Store) -> None:
    fill(store)
    lines = list(export_lines(store))
    before = store.counts()
    report = import_lines(store, lines)
    assert report.added == 0 and report.skipped == len(lines) - 1
    assert store.counts() == before


def test_bad_lines_are_rejected_with_their_line_number_and_the_rest_imported(store: Store) -> None:
    uid = uuid.uuid4().hex
    lines = [
        json.dumps({"kind": "person", "ref": "p1"}),
        "{not json",
        json.dumps(
            {
                "kind": "lab",
                "person": "p1",
                "test": "b12_total",
                "value": 150,
                "unit": "parsecs",
                "date": "2025-01-01",
            }
        ),
        json.dumps(
            {
                "kind": "lab",
                "person": "nobody",
                "test": "b12_total",
                "value": 150,
                "unit": "ng/L",
                "date": "2025-01-01",
            }
        ),
        json.dumps(
            {"kind": "symptoms", "person": "p1", "date": "2025-01-01", "worst_severity": 11}
        ),
        json.dumps({"kind": "cake", "person": "p1"}),
        json.dumps(
            {
                "kind": "lab",
                "person": "p1",
                "test": "b12_total",
                "value": 150,
                "unit": "ng/L",
                "date": "2025-01-01",
                "uid": uid,
            }
        ),
    ]
    report = import_lines(store, lines)
    assert report.added == 2
    rejected = dict(report.rejected)
    assert set(rejected) == {2, 3, 4, 5, 6}
    assert "accepted units" in rejected[3]
    assert "no person line" in rejected[4]
    assert "worst_severity" in rejected[5]
    assert store.timeline("p1").labs[0].uid == uid


scores = st.one_of(st.none(), st.integers(min_value=0, max_value=10))
entries = st.lists(
    st.builds(
        SymptomsIn,
        date=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2025, 12, 31)),
        cramps_per_week=st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
        worst_severity=scores,
        tightness=scores,
        tingling_numbness=scores,
        balance=scores,
        fatigue=scores,
        note=st.one_of(st.none(), st.text(max_size=50).filter(lambda s: "\x00" not in s)),
    ),
    max_size=8,
)


def _key(entry: object) -> str:
    fields = (
        "date",
        "cramps_per_week",
        "worst_severity",
        "tightness",
        "tingling_numbness",
        "balance",
        "fatigue",
        "note",
    )
    return repr(tuple(getattr(entry, f) for f in fields))


def test_any_symptom_diary_round_trips(tmp_path: Path) -> None:
    src = open_store(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    dst = open_store(f"sqlite:///{tmp_path / 'b.sqlite3'}")

    @settings(max_examples=30, deadline=None)
    @given(diary=entries)
    def check(diary: list[SymptomsIn]) -> None:
        ref = "p" + uuid.uuid4().hex
        src.ensure_person(ref)
        for entry in diary:
            src.add_symptoms(ref, entry)
        lines = list(export_lines(src, refs=[ref]))
        import_lines(dst, lines)
        assert list(export_lines(dst, refs=[ref])) == lines
        got = dst.timeline(ref).symptoms
        assert sorted(map(_key, diary)) == sorted(map(_key, got))

    check()
    src.close()
    dst.close()


# -- SIGKILL in the middle of a bulk import --------------------------------------------------


def _bulk(n: int) -> list[str]:
    lines = [
        json.dumps({"kind": "header", "schema": "b12dx/records/v1"}),
        json.dumps({"kind": "person", "ref": "bulk", "uid": uuid.uuid4().hex}),
    ]
    for i in range(n):
        lines.append(
            json.dumps(
                {
                    "kind": "symptoms",
                    "person": "bulk",
                    "uid": uuid.uuid4().hex,
                    "date": (D0 + dt.timedelta(days=i % 365)).isoformat(),
                    "cramps_per_week": i % 20,
                    "worst_severity": i % 11,
                    "note": f"entry {i}",
                }
            )
        )
    return lines


def _uids_in_db(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        uids = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT uid FROM people UNION ALL SELECT uid FROM symptoms")
            )
        ]
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        orphans = conn.execute(
            sa.text(
                "SELECT count(*) FROM symptoms s LEFT JOIN people p ON p.id = s.person_id "
                "WHERE p.id IS NULL"
            )
        ).scalar_one()
        assert orphans == 0
    engine.dispose()
    return uids


@pytest.mark.timeout(300)
@pytest.mark.parametrize("batches_before_kill", [1, 3])
def test_sigkill_mid_import_keeps_every_committed_record(
    db_url: str, tmp_path: Path, batches_before_kill: int
) -> None:
    batch = 20
    lines = _bulk(400)
    open_store(db_url).close()  # migrate first, so the kill lands in the import itself
    env = {**os.environ, "B12DX_DATABASE_URL": db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "b12dx", "record", "import", "-", "--batch-size", str(batch)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stderr is not None
    sent = batch * batches_before_kill
    proc.stdin.write("\n".join(lines[:sent]) + "\n")
    proc.stdin.flush()
    committed = -1
    while committed < 0:  # wait for the importer to report its commit of those lines
        line = proc.stderr.readline()
        assert line, "the importer exited early"
        if line.startswith("committed") and f"(lines {sent})" in line:
            committed = int(line.split()[1])
    # half a batch more, then half a line: the importer holds an open transaction
    more = lines[sent : sent + batch // 2]
    proc.stdin.write("\n".join(more) + "\n" + lines[sent + batch // 2][:25])
    proc.stdin.flush()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    expected_uids = [json.loads(x)["uid"] for x in lines[1:]]
    present = _uids_in_db(db_url)
    # every committed record is there, and nothing from the batch that was cut off
    assert committed == sent - 1  # all lines but the header add a record
    assert sorted(present) == sorted(expected_uids[:committed])

    # running the whole import again completes it without duplicates
    done = subprocess.run(
        [sys.executable, "-m", "b12dx", "record", "import", "-", "--batch-size", "100"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert (
        f"imported {len(lines) - 1 - committed} records, {committed} already present" in done.stdout
    )
    assert sorted(_uids_in_db(db_url)) == sorted(expected_uids)
