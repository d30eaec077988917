"""calendar: official holiday schedules loaded by admins, with their history

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calendar_loads",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.Column("loaded_by", sa.String(80), nullable=False),
        sa.Column("current_year", sa.Integer, nullable=True),
        sa.Column("replaced_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_loads"),
        sa.UniqueConstraint("current_year", name="uq_calendar_loads_current_year"),
    )
    op.create_index("ix_calendar_loads_year_id", "calendar_loads", ["year", "id"])
    op.create_table(
        "calendar_days",
        sa.Column("load_id", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("load_id", "day", name="pk_calendar_days"),
        sa.ForeignKeyConstraint(["load_id"], ["calendar_loads.id"],
                                name="fk_calendar_days_load_id_calendar_loads"),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_days_kind"),
    )


def downgrade() -> None:
    op.drop_table("calendar_days")
    op.drop_index("ix_calendar_loads_year_id", "calendar_loads")
    op.drop_table("calendar_loads")
