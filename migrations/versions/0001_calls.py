"""call records

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_ref", sa.String(64), nullable=False),
        sa.Column("caller_key", sa.String(32), nullable=False),
        sa.Column("caller_kind", sa.String(16), nullable=False),
        sa.Column("caller_name", sa.String(80), nullable=False),
        sa.Column("dnid", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("target", sa.String(80), nullable=True),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("hangup_point", sa.String(32), nullable=True),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("message_path", sa.String(255), nullable=True),
        sa.Column("ticket_number", sa.String(32), nullable=True),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("rated_at", TS, nullable=True),
        sa.Column("notes", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
    )
    op.create_index("ix_calls_caller_started", "calls", ["caller_key", "started_at"])
    op.create_index("ix_calls_channel_ref", "calls", ["channel", "channel_ref"])
    op.create_index("ix_calls_outcome_started", "calls", ["outcome", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_outcome_started", "calls")
    op.drop_index("ix_calls_channel_ref", "calls")
    op.drop_index("ix_calls_caller_started", "calls")
    op.drop_table("calls")
