"""The record store on SQLite and PostgreSQL: schema, validation, isolation, transactions."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from b12dx.errors import ConflictError, ImplausibleValueError, InputError, UnitError
from b12dx.store import LabIn, PersonIn, ReviewIn, SymptomsIn, TreatmentIn, open_store
from b12dx.store.engine import DATA_DIR_ENV, DATABASE_ENV, resolve_url
from b12dx.store.repo import NotFoundError, Store
from b12dx.store.tables import metadata

pytest_plugins = ("conftest_pg",)

D0 = dt.date(2025, 1, 6)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


def lab(
    test: str = "b12_total",
    value: float = 150.0,
    unit: str = "ng/L",
    day: dt.date = D0,
    **kw: object,
) -> LabIn:
    return LabIn.model_validate({"test": test, "value": value, "unit": unit, "date": day, **kw})


def course(day: dt.date = D0, **kw: object) -> TreatmentIn:
    data = {
        "started_on": day,
        "route": "intramuscular",
        "product": "hydroxocobalamin",
        "dose": "1 mg",
        "frequency": "three times a week for 2 weeks",
        **kw,
    }
    return TreatmentIn.model_validate(data)


# -- schema and engine -----------------------------------------------------------------------


def test_migrated_schema_matches_the_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn, warnings.catch_warnings():
        # SQLAlchemy cannot reflect the expression index (coalesce(owner_id, 0), ref)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        warnings.filterwarnings("ignore", ".*expression-based index .ux_people_owner_ref")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
        assert ctx.get_current_revision() == "0001"
    # expression indexes are not compared by alembic; everything else must match
    assert [d for d in diff if "ux_people_owner_ref" not in str(d)] == []


def test_migrating_twice_is_a_no_op(db_url: str) -> None:
    open_store(db_url).close()
    s = open_store(db_url)
    assert s.counts()["people"] == 0
    s.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(sqlite_url: str) -> None:
    s = open_store(sqlite_url)
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    s.close()


def test_default_database_is_a_file_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'data' / 'records.sqlite3'}"
    monkeypatch.setenv(DATABASE_ENV, "postgresql://u@127.0.0.1:5/x")
    assert resolve_url() == "postgresql+psycopg://u@127.0.0.1:5/x"
    assert resolve_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"


def test_default_data_dir_comes_from_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv(DATABASE_ENV, raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "/tmp/b12dx-test-xdg")
    expected = Path(platformdirs.user_data_dir("b12dx", appauthor=False)) / "records.sqlite3"
    assert resolve_url() == f"sqlite:///{expected}"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:"])
def test_unsupported_or_volatile_databases_are_refused(url: str) -> None:
    with pytest.raises(InputError):
        open_store(url)


# -- writing and reading ---------------------------------------------------------------------


def test_a_timeline_reads_back_what_was_written(store: Store) -> None:
    store.add_person(PersonIn(ref="p1", sex="female", conditions=["autoimmune gastritis"]))
    store.add_lab("p1", lab(day=D0 + dt.timedelta(days=30), value=400))
    store.add_lab("p1", lab(note="before treatment"))
    store.add_symptoms("p1", SymptomsIn(date=D0, cramps_per_week=5, worst_severity=7))
    started = store.start_treatment("p1", course(day=D0 + dt.timedelta(days=1)))
    stopped = store.stop_treatment(
        "p1", stopped_on=D0 + dt.timedelta(days=15), reason="loading done"
    )
    assert stopped.uid == started.uid and stopped.stop_reason == "loading done"
    store.add_review("p1", ReviewIn(date=D0 + dt.timedelta(days=90), outcome="improved"))
    tl = store.timeline("p1")
    assert tl.person.conditions == ("autoimmune_gastritis",)  # canonical id
    assert [x.value for x in tl.labs] == [150.0, 400.0]  # date order
    assert tl.labs[0].note == "before treatment"
    assert tl.symptoms[0].worst_severity == 7
    assert tl.treatments[0].stopped_on == D0 + dt.timedelta(days=15)
    assert tl.reviews[0].outcome == "improved"


def test_lab_test_synonyms_resolve_to_kb_ids(store: Store) -> None:
    got = store.add_lab("p1", lab(test="B12 total"), create=True)
    assert got.test == "b12_total"


@pytest.mark.parametrize(
    ("record", "error", "words"),
    [
        (lambda: lab(test="b12_totl"), InputError, "Did you mean 'b12_total'"),
        (lambda: lab(unit="furlongs"), UnitError, "accepted units"),
        (lambda: lab(value=1e9), ImplausibleValueError, "implausible"),
        (lambda: lab(day=dt.date.today() + dt.timedelta(days=30)), InputError, "future"),
    ],
)
def test_bad_labs_are_refused_with_a_precise_message(
    store: Store, record: object, error: type[Exception], words: str
) -> None:
    store.ensure_person("p1")
    with pytest.raises(error, match=words):
        store.add_lab("p1", record())  # type: ignore[operator]
    assert store.counts()["labs"] == 0


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    # person creation and the lab are one transaction: the bad unit undoes both
    with pytest.raises(UnitError):
        store.add_lab("new", lab(unit="furlongs"), create=True)
    assert store.counts()["people"] == 0


def test_duplicate_people_and_uids_conflict(store: Store) -> None:
    store.add_person(PersonIn(ref="p1"))
    with pytest.raises(ConflictError):
        store.add_person(PersonIn(ref="p1"))
    first = store.add_lab("p1", lab())
    with pytest.raises(ConflictError):
        store.add_lab("p1", lab(uid=first.uid))
    assert store.counts()["labs"] == 1


def test_treatment_rules(store: Store) -> None:
    store.ensure_person("p1")
    with pytest.raises(InputError, match="before started_on"):
        store.start_treatment("p1", course(stopped_on=D0 - dt.timedelta(days=1)))
    with pytest.raises(InputError, match="unknown cause"):
        store.start_treatment("p1", course(indication="b12_defficiency"))
    store.start_treatment("p1", course())
    store.start_treatment("p1", course(route="oral", product="cyanocobalamin"))
    with pytest.raises(InputError, match="2 active treatments"):
        store.stop_treatment("p1", stopped_on=D0)


def test_people_are_private_to_their_owner(store: Store) -> None:
    alice, _ = store.create_user("alice")
    bob, _ = store.create_user("bob")
    store.add_person(PersonIn(ref="p1"), owner=alice.id)
    store.add_lab("p1", lab(), owner=alice.id)
    # bob may use the same ref for his own person, and never sees alice's
    store.add_person(PersonIn(ref="p1"), owner=bob.id)
    assert store.timeline("p1", owner=bob.id).labs == ()
    assert len(store.timeline("p1", owner=alice.id).labs) == 1
    with pytest.raises(NotFoundError):
        store.timeline("p1")  # the CLI's local records are a third, separate owner
    with pytest.raises(NotFoundError):
        store.add_lab("p2", lab(), owner=bob.id)


def test_tokens_are_stored_hashed(store: Store) -> None:
    user, token = store.create_user("carol", admin=True)
    assert store.user_for_token(token) == user
    assert store.user_for_token(token + "x") is None
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM users")).scalar_one()
    assert token not in stored and len(stored) == 64


def test_person_details_change_and_are_checked(store: Store) -> None:
    store.ensure_person("p1")
    p = store.update_person("p1", {"sex": "female", "pregnant": True})
    assert p.pregnant and p.sex == "female"
    with pytest.raises(ConflictError):
        store.update_person("p1", {"sex": "male"})
    with pytest.raises(InputError, match="unknown evidence id"):
        store.update_person("p1", {"conditions": ["pernicious"]})


def test_assessments_are_stored_with_their_summary(store: Store) -> None:
    data = {
        "triage": {"level": "consultation"},
        "differential": [{"id": "b12_deficiency"}],
        "note": "ü",
    }
    a = store.add_assessment("p1", data, day=D0, create=True)
    assert (a.triage_level, a.top_cause) == ("consultation", "b12_deficiency")
    assert store.timeline("p1").assessments[0].data == data
    with pytest.raises(InputError, match="not a b12dx assessment"):
        store.add_assessment("p1", {"x": 1}, day=D0)


def test_counts_cover_every_table(store: Store) -> None:
    assert set(store.counts()) == {t.name for t in metadata.sorted_tables}
    assert json.dumps(store.counts())


def test_concurrent_first_writes_for_a_new_person_all_succeed(store: Store) -> None:
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        try:
            store.add_lab("fresh", lab(value=100.0 + i), create=True)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert store.counts()["people"] == 1
    assert sorted(x.value for x in store.timeline("fresh").labs) == [100.0 + i for i in range(8)]


def test_migrations_downgrade_and_upgrade_again(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    s = open_store(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", "b12dx:migrations")
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(s.engine).get_table_names()) <= {"alembic_version"}
    s.close()
    s = open_store(db_url)  # migrates up again
    s.ensure_person("p1")
    assert s.counts()["people"] == 1
    s.close()
