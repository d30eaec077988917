"""twilio: the call flow's state between webhooks by CallSid, and each turn's TwiML for replays

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "twilio_calls",
        sa.Column("call_sid", sa.String(34), nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("busy_token", sa.String(32), nullable=True),
        sa.Column("busy_until", TS, nullable=True),
        sa.Column("recording_sid", sa.String(34), nullable=True),
        sa.Column("recording_url", sa.String(255), nullable=True),
        sa.Column("recording_s", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("call_sid", name="pk_twilio_calls"),
    )
    op.create_index("ix_twilio_calls_call_id", "twilio_calls", ["call_id"])
    op.create_table(
        "twilio_turns",
        sa.Column("call_sid", sa.String(34), nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("twiml", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("call_sid", "turn", name="pk_twilio_turns"),
        sa.ForeignKeyConstraint(["call_sid"], ["twilio_calls.call_sid"],
                                name="fk_twilio_turns_call_sid_twilio_calls"),
    )


def downgrade() -> None:
    op.drop_table("twilio_turns")
    op.drop_index("ix_twilio_calls_call_id", table_name="twilio_calls")
    op.drop_table("twilio_calls")
