"""The record store: every read and write of longitudinal records goes through ``Store``.

Each public method is one transaction: it commits completely or not at all. Records belong to
an owner (a user id for records written through the API, ``None`` for the CLI's local records);
every lookup is scoped by owner, so one user's people are invisible to another (a stranger's
``ref`` is "not found", not "forbidden", so that its existence does not leak).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from ..errors import ConflictError, ImplausibleValueError, InputError, UnknownIdError
from ..kb import KnowledgeBase, load_kb
from . import tables as t
from .auth import hash_token, new_token
from .engine import WRITE_OPTION, create_engine, migrate, resolve_url
from .records import (
    Assessment,
    Lab,
    LabIn,
    Person,
    PersonIn,
    Review,
    ReviewIn,
    Symptoms,
    SymptomsIn,
    Timeline,
    Treatment,
    TreatmentIn,
    User,
)

__all__ = ["NotFoundError", "Store", "open_store"]

_T = TypeVar("_T")

# A date this far past today is a typing error, not a time zone difference (days; not clinical).
FUTURE_TOLERANCE_DAYS = 1


class NotFoundError(InputError):
    """A person or record that does not exist (for this user)."""

    http_status = 404


def now_utc() -> dt.datetime:
    """The current time as naive UTC, the form timestamps are stored in."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def naive_utc(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return now_utc()
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def new_uid() -> str:
    return uuid.uuid4().hex


def open_store(
    url: str | None = None, *, kb: KnowledgeBase | None = None, migrate_schema: bool = True
) -> Store:
    """Open the record store at *url* (default: ``$B12DX_DATABASE_URL`` or the user's file)."""
    engine = create_engine(resolve_url(url))
    if migrate_schema:
        migrate(engine)
    return Store(engine, kb=kb)


class Store:
    """Transactional access to the records of one database."""

    def __init__(self, engine: sa.Engine, *, kb: KnowledgeBase | None = None) -> None:
        self.engine = engine
        self._kb = kb

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            self._kb = load_kb()
        return self._kb

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[sa.Connection]:
        """One database transaction: committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(**{WRITE_OPTION: True})
            elif conn.dialect.name == "postgresql":
                # reads of several tables see one snapshot (SQLite's WAL readers already do)
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # -- users ----------------------------------------------------------------------------

    def create_user(self, name: str, *, admin: bool = False) -> tuple[User, str]:
        """Create a user; returns it with its API token (shown once, stored hashed)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InputError("a user name must have 1 to 100 characters", where="name")
        token = new_token()
        created = now_utc()
        with self.transaction() as conn:
            if conn.execute(sa.select(t.users.c.id).where(t.users.c.name == name)).first():
                raise ConflictError(f"a user named {name!r} already exists", where="name")
            user_id = conn.execute(
                t.users.insert()
                .values(name=name, token_hash=hash_token(token), is_admin=admin, created_at=created)
                .returning(t.users.c.id)
            ).scalar_one()
        return User(id=user_id, name=name, is_admin=admin, created_at=created), token

    def user_for_token(self, token: str) -> User | None:
        """The user holding *token*, or None; the lookup is by hash only."""
        with self.transaction(write=False) as conn:
            row = conn.execute(
                sa.select(t.users).where(t.users.c.token_hash == hash_token(token))
            ).first()
        if row is None:
            return None
        return User(id=row.id, name=row.name, is_admin=row.is_admin, created_at=row.created_at)

    def list_users(self) -> list[User]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(sa.select(t.users).order_by(t.users.c.id)).all()
        return [
            User(id=r.id, name=r.name, is_admin=r.is_admin, created_at=r.created_at) for r in rows
        ]

    def rotate_token(self, user_id: int) -> str:
        """Give the user a new token; the old one stops working at once."""
        token = new_token()
        with self.transaction() as conn:
            done = conn.execute(
                t.users.update().where(t.users.c.id == user_id).values(token_hash=hash_token(token))
            ).rowcount
        if done != 1:
            raise NotFoundError(f"no user with id {user_id}", where="user")
        return token

    # -- people ---------------------------------------------------------------------------

    def _owner_clause(self, owner: int | None) -> sa.ColumnElement[bool]:
        col = t.people.c.owner_id
        return col.is_(None) if owner is None else col == owner

    def _person_row(self, conn: sa.Connection, ref: str, owner: int | None) -> Any:
        row = conn.execute(
            sa.select(t.people).where(t.people.c.ref == ref, self._owner_clause(owner))
        ).first()
        if row is None:
            raise NotFoundError(f"no person {ref!r} in these records", where="person")
        return row

    def _check_conditions(self, conditions: Sequence[str]) -> list[str]:
        from ..case import resolve_evidence_id

        out: list[str] = []
        for i, c in enumerate(conditions):
            ident = resolve_evidence_id(c, self.kb, where=f"conditions[{i}]")
            if ident not in out:
                out.append(ident)
        return out

    def _insert_person(self, conn: sa.Connection, person: PersonIn, owner: int | None) -> Any:
        conditions = self._check_conditions(person.conditions)
        if person.pregnant and person.sex == "male":
            raise ConflictError("pregnant is true but sex is 'male'", where="pregnant")
        values = dict(
            uid=person.uid or new_uid(),
            owner_id=owner,
            ref=person.ref,
            sex=person.sex,
            pregnant=person.pregnant,
            breastfeeding=person.breastfeeding,
            conditions=json.dumps(conditions),
            created_at=naive_utc(person.created_at),
        )
        try:
            with conn.begin_nested():
                conn.execute(t.people.insert().values(**values))
        except sa.exc.IntegrityError:
            raise ConflictError(
                f"person {person.ref!r} already exists (or the uid is taken)", where="ref"
            ) from None
        return self._person_row(conn, person.ref, owner)

    def add_person(self, person: PersonIn, *, owner: int | None = None) -> Person:
        with self.transaction() as conn:
            return _person(self._insert_person(conn, person, owner))

    def ensure_person(self, ref: str, *, owner: int | None = None) -> Person:
        """The person *ref*, created (with nothing but its ref) if missing."""
        with self.transaction() as conn:
            return _person(self._get_or_create(conn, ref, owner))

    def _get_or_create(self, conn: sa.Connection, ref: str, owner: int | None) -> Any:
        query = sa.select(t.people).where(t.people.c.ref == ref, self._owner_clause(owner))
        row = conn.execute(query).first()
        if row is not None:
            return row
        try:
            return self._insert_person(conn, PersonIn(ref=ref), owner)
        except ConflictError:
            # created by a concurrent writer since we looked (PostgreSQL); use theirs
            row = conn.execute(query).first()
            if row is None:
                raise
            return row

    def update_person(
        self, ref: str, changes: Mapping[str, Any], *, owner: int | None = None
    ) -> Person:
        """Change sex, pregnancy, breastfeeding or conditions of a person."""
        allowed = {"sex", "pregnant", "breastfeeding", "conditions"}
        unknown = set(changes) - allowed
        if unknown:
            raise InputError(f"cannot change {sorted(unknown)}; changeable: {sorted(allowed)}")
        with self.transaction() as conn:
            row = self._person_row(conn, ref, owner)
            merged = PersonIn.model_validate(
                {
                    "ref": ref,
                    "sex": row.sex,
                    "pregnant": row.pregnant,
                    "breastfeeding": row.breastfeeding,
                    "conditions": json.loads(row.conditions),
                    **changes,
                }
            )
            if merged.pregnant and merged.sex == "male":
                raise ConflictError("pregnant is true but sex is 'male'", where="pregnant")
            conn.execute(
                t.people.update()
                .where(t.people.c.id == row.id)
                .values(
                    sex=merged.sex,
                    pregnant=merged.pregnant,
                    breastfeeding=merged.breastfeeding,
                    conditions=json.dumps(self._check_conditions(merged.conditions)),
                )
            )
            return _person(self._person_row(conn, ref, owner))

    def get_person(self, ref: str, *, owner: int | None = None) -> Person:
        with self.transaction(write=False) as conn:
            return _person(self._person_row(conn, ref, owner))

    def list_people(self, *, owner: int | None = None) -> list[Person]:
        with self.transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(t.people).where(self._owner_clause(owner)).order_by(t.people.c.ref)
            ).all()
        return [_person(r) for r in rows]

    # -- events ---------------------------------------------------------------------------

    def _check_date(self, day: dt.date, where: str) -> None:
        if day > dt.date.today() + dt.timedelta(days=FUTURE_TOLERANCE_DAYS):
            raise InputError(f"{day.isoformat()} is in the future", where=where)

    def _check_lab(self, lab: LabIn) -> str:
        from ..labs import convert, resolve_test

        test = resolve_test(self.kb, lab.test, None, where="test")
        canonical = convert(test, lab.value, lab.unit, where="unit")
        low, high = test.plausible_low.value, test.plausible_high.value
        if not low <= canonical <= high:
            factor = convert(test, 1.0, lab.unit)
            raise ImplausibleValueError(
                test.name, lab.value, low / factor, high / factor, lab.unit, where="value"
            )
        self._check_date(lab.date, "date")
        return test.id

    def _event_values(self, record: Any, person_id: int) -> dict[str, Any]:
        return dict(
            uid=record.uid or new_uid(),
            person_id=person_id,
            created_at=naive_utc(record.created_at),
        )

    def _insert(self, conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
        try:
            with conn.begin_nested():
                conn.execute(table.insert().values(**values))
        except sa.exc.IntegrityError:
            raise ConflictError(
                f"a record with uid {values['uid']} already exists", where="uid"
            ) from None

    def insert_lab(self, conn: sa.Connection, person_id: int, lab: LabIn) -> str:
        test = self._check_lab(lab)
        values = self._event_values(lab, person_id)
        values.update(test=test, value=lab.value, unit=lab.unit, date=lab.date, note=lab.note)
        self._insert(conn, t.labs, values)
        return str(values["uid"])

    def insert_symptoms(self, conn: sa.Connection, person_id: int, entry: SymptomsIn) -> str:
        self._check_date(entry.date, "date")
        values = self._event_values(entry, person_id)
        values.update(entry.model_dump(exclude={"uid", "created_at"}))
        self._insert(conn, t.symptoms, values)
        return str(values["uid"])

    def insert_treatment(self, conn: sa.Connection, person_id: int, course: TreatmentIn) -> str:
        self._check_date(course.started_on, "started_on")
        if course.indication not in self.kb.cause_by_id:
            raise UnknownIdError(
                "cause",
                course.indication,
                self.kb.cause_by_id,
                where="indication",
                listing="b12dx kb causes",
            )
        if course.stopped_on is not None and course.stopped_on < course.started_on:
            raise InputError("stopped_on is before started_on", where="stopped_on")
        values = self._event_values(course, person_id)
        values.update(course.model_dump(exclude={"uid", "created_at"}))
        self._insert(conn, t.treatments, values)
        return str(values["uid"])

    def insert_assessment(
        self,
        conn: sa.Connection,
        person_id: int,
        day: dt.date,
        data: Mapping[str, Any],
        *,
        uid: str | None = None,
        created_at: dt.datetime | None = None,
    ) -> str:
        self._check_date(day, "date")
        try:
            level = str(data["triage"]["level"])
            top = str(data["differential"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise InputError(
                "not a b12dx assessment (needs triage.level and a differential)", where="data"
            ) from None
        values: dict[str, Any] = dict(
            uid=uid or new_uid(),
            person_id=person_id,
            created_at=naive_utc(created_at),
            date=day,
            triage_level=level,
            top_cause=top,
            data=json.dumps(data, sort_keys=True, ensure_ascii=False),
        )
        self._insert(conn, t.assessments, values)
        return str(values["uid"])

    def insert_review(self, conn: sa.Connection, person_id: int, review: ReviewIn) -> str:
        self._check_date(review.date, "date")
        values = self._event_values(review, person_id)
        values.update(review.model_dump(exclude={"uid", "created_at"}))
        self._insert(conn, t.reviews, values)
        return str(values["uid"])

    def _write_event(self, ref: str, owner: int | None, create: bool, fn: Any, record: Any) -> str:
        with self.transaction() as conn:
            if create:
                row = self._get_or_create(conn, ref, owner)
            else:
                row = self._person_row(conn, ref, owner)
            return str(fn(conn, row.id, record))

    def add_lab(
        self, ref: str, lab: LabIn, *, owner: int | None = None, create: bool = False
    ) -> Lab:
        uid = self._write_event(ref, owner, create, self.insert_lab, lab)
        return self._one(t.labs, uid, _lab)

    def add_symptoms(
        self, ref: str, entry: SymptomsIn, *, owner: int | None = None, create: bool = False
    ) -> Symptoms:
        uid = self._write_event(ref, owner, create, self.insert_symptoms, entry)
        return self._one(t.symptoms, uid, _symptoms)

    def start_treatment(
        self, ref: str, course: TreatmentIn, *, owner: int | None = None, create: bool = False
    ) -> Treatment:
        uid = self._write_event(ref, owner, create, self.insert_treatment, course)
        return self._one(t.treatments, uid, _treatment)

    def add_review(self, ref: str, review: ReviewIn, *, owner: int | None = None) -> Review:
        uid = self._write_event(ref, owner, False, self.insert_review, review)
        return self._one(t.reviews, uid, _review)

    def add_assessment(
        self,
        ref: str,
        data: Mapping[str, Any],
        *,
        day: dt.date,
        owner: int | None = None,
        create: bool = False,
    ) -> Assessment:
        def insert(conn: sa.Connection, person_id: int, payload: Mapping[str, Any]) -> str:
            return self.insert_assessment(conn, person_id, day, payload)

        uid = self._write_event(ref, owner, create, insert, data)
        return self._one(t.assessments, uid, _assessment)

    def stop_treatment(
        self,
        ref: str,
        *,
        stopped_on: dt.date,
        owner: int | None = None,
        uid: str | None = None,
        reason: str | None = None,
    ) -> Treatment:
        """Stop a course: the one with *uid*, else the only active one."""
        self._check_date(stopped_on, "stopped_on")
        with self.transaction() as conn:
            person = self._person_row(conn, ref, owner)
            query = sa.select(t.treatments).where(t.treatments.c.person_id == person.id)
            if uid is not None:
                row = conn.execute(query.where(t.treatments.c.uid == uid)).first()
                if row is None:
                    raise NotFoundError(f"no treatment {uid} for {ref!r}", where="uid")
            else:
                active = conn.execute(query.where(t.treatments.c.stopped_on.is_(None))).all()
                if len(active) != 1:
                    raise InputError(
                        f"{ref!r} has {len(active)} active treatments; say which "
                        "one to stop by its uid",
                        where="uid",
                    )
                row = active[0]
            if row.stopped_on is not None:
                raise ConflictError(
                    f"treatment {row.uid} already stopped on {row.stopped_on.isoformat()}",
                    where="uid",
                )
            if stopped_on < row.started_on:
                raise InputError(
                    f"stop date {stopped_on.isoformat()} is before the start "
                    f"({row.started_on.isoformat()})",
                    where="stopped_on",
                )
            conn.execute(
                t.treatments.update()
                .where(t.treatments.c.id == row.id)
                .values(stopped_on=stopped_on, stop_reason=reason)
            )
            uid = row.uid
        return self._one(t.treatments, str(uid), _treatment)

    def _one(self, table: sa.Table, uid: str, convert: Callable[[Any], _T]) -> _T:
        with self.transaction(write=False) as conn:
            row = conn.execute(sa.select(table).where(table.c.uid == uid)).one()
        return convert(row)

    # -- reading --------------------------------------------------------------------------

    def timeline(self, ref: str, *, owner: int | None = None) -> Timeline:
        """Everything stored for *ref*, read in one consistent snapshot."""
        with self.transaction(write=False) as conn:
            return self._timeline(conn, self._person_row(conn, ref, owner))

    def _timeline(self, conn: sa.Connection, person: Any) -> Timeline:
        def rows(table: sa.Table, date_col: str) -> Sequence[Any]:
            return conn.execute(
                sa.select(table)
                .where(table.c.person_id == person.id)
                .order_by(table.c[date_col], table.c.created_at, table.c.uid)
            ).all()

        return Timeline(
            person=_person(person),
            labs=tuple(_lab(r) for r in rows(t.labs, "date")),
            symptoms=tuple(_symptoms(r) for r in rows(t.symptoms, "date")),
            treatments=tuple(_treatment(r) for r in rows(t.treatments, "started_on")),
            assessments=tuple(_assessment(r) for r in rows(t.assessments, "date")),
            reviews=tuple(_review(r) for r in rows(t.reviews, "date")),
        )

    def timelines(
        self, *, owner: int | None = None, refs: Sequence[str] | None = None
    ) -> Iterator[Timeline]:
        """Timelines of all (or the named) people of *owner*, in ref order."""
        with self.transaction(write=False) as conn:
            query = sa.select(t.people).where(self._owner_clause(owner))
            if refs is not None:
                for ref in refs:
                    self._person_row(conn, ref, owner)
                query = query.where(t.people.c.ref.in_(list(refs)))
            for person in conn.execute(query.order_by(t.people.c.ref)).all():
                yield self._timeline(conn, person)

    def counts(self) -> dict[str, int]:
        """Number of rows per table (for checks and tests)."""
        with self.transaction(write=False) as conn:
            return {
                table.name: int(
                    conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
                for table in t.metadata.sorted_tables
            }


# -- row -> model ----------------------------------------------------------------------------


def _person(r: Any) -> Person:
    return Person(
        uid=r.uid,
        ref=r.ref,
        sex=r.sex,
        pregnant=r.pregnant,
        breastfeeding=r.breastfeeding,
        conditions=tuple(json.loads(r.conditions)),
        created_at=r.created_at,
    )


def _lab(r: Any) -> Lab:
    return Lab.model_validate(r, from_attributes=True)


def _symptoms(r: Any) -> Symptoms:
    return Symptoms.model_validate(r, from_attributes=True)


def _treatment(r: Any) -> Treatment:
    return Treatment.model_validate(r, from_attributes=True)


def _assessment(r: Any) -> Assessment:
    return Assessment(
        uid=r.uid,
        date=r.date,
        triage_level=r.triage_level,
        top_cause=r.top_cause,
        data=json.loads(r.data),
        created_at=r.created_at,
    )


def _review(r: Any) -> Review:
    return Review.model_validate(r, from_attributes=True)
