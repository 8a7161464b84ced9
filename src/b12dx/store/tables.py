"""The database tables (SQLAlchemy Core). Alembic migrations in ``b12dx/migrations`` create them;
a test proves the migrated schema matches this metadata on SQLite and PostgreSQL.

Timestamps are stored as naive UTC (``DateTime`` without time zone) so that SQLite and
PostgreSQL hold the same values and an export round-trips byte for byte.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

__all__ = [
    "assessments",
    "labs",
    "metadata",
    "people",
    "reviews",
    "symptoms",
    "treatments",
    "users",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


def _uid() -> sa.Column[str]:
    return sa.Column("uid", sa.String(32), nullable=False, unique=True)


def _created() -> sa.Column[dt.datetime]:
    return sa.Column("created_at", sa.DateTime(), nullable=False)


def _person_fk() -> sa.Column[int]:
    return sa.Column(
        "person_id",
        sa.Integer,
        sa.ForeignKey("people.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    # sha256 of the API token; the token itself is shown once and never stored
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    _created(),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _uid(),
    # NULL for records kept locally by the CLI; a user id for records written through the API
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")),
    sa.Column("ref", sa.String(100), nullable=False),
    sa.Column("sex", sa.String(6)),
    sa.Column("pregnant", sa.Boolean, nullable=False),
    sa.Column("breastfeeding", sa.Boolean, nullable=False),
    sa.Column("conditions", sa.Text, nullable=False),  # JSON list of KB evidence ids
    _created(),
    # one ref per owner; the local owner (NULL) is folded to 0 so that it is unique too
    sa.Index("ux_people_owner_ref", sa.func.coalesce(sa.column("owner_id"), 0), "ref", unique=True),
)

labs = sa.Table(
    "labs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _uid(),
    _person_fk(),
    sa.Column("test", sa.String(60), nullable=False),
    sa.Column("value", sa.Float(precision=53), nullable=False),
    sa.Column("unit", sa.String(30), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("note", sa.Text),
    _created(),
)

symptoms = sa.Table(
    "symptoms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _uid(),
    _person_fk(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("cramps_per_week", sa.Integer),
    sa.Column("worst_severity", sa.Integer),
    sa.Column("tightness", sa.Integer),
    sa.Column("tingling_numbness", sa.Integer),
    sa.Column("balance", sa.Integer),
    sa.Column("fatigue", sa.Integer),
    sa.Column("note", sa.Text),
    _created(),
)

treatments = sa.Table(
    "treatments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _uid(),
    _person_fk(),
    sa.Column("started_on", sa.Date, nullable=False),
    sa.Column("stopped_on", sa.Date),
    sa.Column("route", sa.String(20), nullable=False),
    sa.Column("product", sa.String(200), nullable=False),
    sa.Column("dose", sa.String(100), nullable=False),
    sa.Column("frequency", sa.String(100), nullable=False),
    sa.Column("indication", sa.String(100), nullable=False),
    sa.Column("lifelong", sa.Boolean, nullable=False),
    sa.Column("stop_reason", sa.Text),
    sa.Column("note", sa.Text),
    _created(),
)

assessments = sa.Table(
    "assessments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _uid(),
    _person_fk(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("triage_level", sa.String(30), nullable=False),
    sa.Column("top_cause", sa.String(100), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # the Assessment JSON, as assess() returned it
    _created(),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _uid(),
    _person_fk(),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("treatment_uid", sa.String(32)),
    sa.Column("note", sa.Text),
    _created(),
)
