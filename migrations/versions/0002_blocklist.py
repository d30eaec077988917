"""blocklist: blocks, their history, cited calls, agents' flags

Cited and flagged call ids are checked by the code, not by foreign keys to ``calls``: evidence
outlives call-record retention, and a later SQLite batch rebuild of ``calls`` must not fail
because a block cites a call.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "block_numbers",
        sa.Column("number_key", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("number_key", name="pk_block_numbers"),
    )
    op.create_table(
        "blocks",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("number_key", sa.String(32), nullable=False),
        sa.Column("ground", sa.String(24), nullable=False),
        sa.Column("ground_text", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(80), nullable=False),
        sa.Column("proposed_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False),
        sa.Column("until", TS, nullable=True),
        sa.Column("last_day", sa.Date, nullable=True),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("lifted_by", sa.String(80), nullable=True),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("lift_reason", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_blocks"),
        sa.ForeignKeyConstraint(["number_key"], ["block_numbers.number_key"],
                                name="fk_blocks_number_key_block_numbers"),
    )
    op.create_index("ix_blocks_number_ends_at", "blocks", ["number_key", "ends_at"])
    op.create_index("ix_blocks_state_until", "blocks", ["state", "until"])
    op.create_table(
        "block_calls",
        sa.Column("block_id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("block_id", "call_id", name="pk_block_calls"),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name="fk_block_calls_block_id_blocks"),
    )
    op.create_table(
        "block_events",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("block_id", sa.Integer, nullable=False),
        sa.Column("number_key", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_block_events"),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name="fk_block_events_block_id_blocks"),
    )
    op.create_index("ix_block_events_number_id", "block_events", ["number_key", "id"])
    op.create_index("ix_block_events_block_id", "block_events", ["block_id", "id"])
    op.create_table(
        "call_flags",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("number_key", sa.String(32), nullable=False),
        sa.Column("flagged_by", sa.String(80), nullable=False),
        sa.Column("flagged_at", TS, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_flags"),
    )
    op.create_index("ix_call_flags_number_flagged", "call_flags", ["number_key", "flagged_at"])
    op.create_index("ix_call_flags_flagged_at", "call_flags", ["flagged_at"])


def downgrade() -> None:
    op.drop_index("ix_call_flags_flagged_at", "call_flags")
    op.drop_index("ix_call_flags_number_flagged", "call_flags")
    op.drop_table("call_flags")
    op.drop_index("ix_block_events_block_id", "block_events")
    op.drop_index("ix_block_events_number_id", "block_events")
    op.drop_table("block_events")
    op.drop_table("block_calls")
    op.drop_index("ix_blocks_state_until", "blocks")
    op.drop_index("ix_blocks_number_ends_at", "blocks")
    op.drop_table("blocks")
    op.drop_table("block_numbers")
