"""Initial record store: users, people, labs, symptoms, treatments, assessments, reviews.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_EVENT_TABLES = ("labs", "symptoms", "treatments", "assessments", "reviews")


def _tail(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("uid", name=f"uq_{table}_uid"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], ondelete="CASCADE", name=f"fk_{table}_person_id_people"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.UniqueConstraint("token_hash", name="uq_users_token_hash"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=True),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("sex", sa.String(6), nullable=True),
        sa.Column("pregnant", sa.Boolean, nullable=False),
        sa.Column("breastfeeding", sa.Boolean, nullable=False),
        sa.Column("conditions", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        sa.UniqueConstraint("uid", name="uq_people_uid"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], ondelete="CASCADE", name="fk_people_owner_id_users"
        ),
    )
    op.create_index(
        "ux_people_owner_ref", "people", [sa.text("coalesce(owner_id, 0)"), "ref"], unique=True
    )
    op.create_table(
        "labs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("test", sa.String(60), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("unit", sa.String(30), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        *_tail("labs"),
    )
    op.create_table(
        "symptoms",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("cramps_per_week", sa.Integer, nullable=True),
        sa.Column("worst_severity", sa.Integer, nullable=True),
        sa.Column("tightness", sa.Integer, nullable=True),
        sa.Column("tingling_numbness", sa.Integer, nullable=True),
        sa.Column("balance", sa.Integer, nullable=True),
        sa.Column("fatigue", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        *_tail("symptoms"),
    )
    op.create_table(
        "treatments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("started_on", sa.Date, nullable=False),
        sa.Column("stopped_on", sa.Date, nullable=True),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("dose", sa.String(100), nullable=False),
        sa.Column("frequency", sa.String(100), nullable=False),
        sa.Column("indication", sa.String(100), nullable=False),
        sa.Column("lifelong", sa.Boolean, nullable=False),
        sa.Column("stop_reason", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        *_tail("treatments"),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("triage_level", sa.String(30), nullable=False),
        sa.Column("top_cause", sa.String(100), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        *_tail("assessments"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("treatment_uid", sa.String(32), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        *_tail("reviews"),
    )
    for table in _EVENT_TABLES:
        op.create_index(f"ix_{table}_person_id", table, ["person_id"])


def downgrade() -> None:
    for table in reversed(_EVENT_TABLES):
        op.drop_table(table)
    op.drop_index("ux_people_owner_ref", table_name="people")
    op.drop_table("people")
    op.drop_table("users")
