"""leader desk (leaders, seats, sessions, calls to a seat) and routing (priority numbers,
call-back requests and their attempts)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leaders",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("title", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(80), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_leaders"),
    )
    op.create_index("ix_leaders_name_unit", "leaders", ["name", "unit"], unique=True)
    op.create_table(
        "leader_seats",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("dial_string", sa.String(80), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_leader_seats"),
        sa.UniqueConstraint("name", name="uq_leader_seats_name"),
    )
    op.create_table(
        "leader_sessions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("leader_id", sa.Integer, nullable=False),
        sa.Column("seat_id", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("zone", sa.String(40), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("cancelled_by", sa.String(80), nullable=True),
        sa.Column("cancel_reason", sa.Text, nullable=True),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_leader_sessions"),
        sa.ForeignKeyConstraint(["leader_id"], ["leaders.id"], name="fk_leader_sessions_leader_id_leaders"),
        sa.ForeignKeyConstraint(["seat_id"], ["leader_seats.id"], name="fk_leader_sessions_seat_id_leader_seats"),
    )
    op.create_index("ix_leader_sessions_state_ends", "leader_sessions", ["state", "ends_at"])
    op.create_index("ix_leader_sessions_seat_starts", "leader_sessions", ["seat_id", "starts_at"])
    op.create_index("ix_leader_sessions_leader_starts", "leader_sessions", ["leader_id", "starts_at"])
    op.create_table(
        "leader_calls",
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("seat", sa.String(80), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("dial_status", sa.String(16), nullable=True),
        sa.Column("ticket_number", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("call_id", name="pk_leader_calls"),
        sa.ForeignKeyConstraint(["session_id"], ["leader_sessions.id"],
                                name="fk_leader_calls_session_id_leader_sessions"),
    )
    op.create_index("ix_leader_calls_session", "leader_calls", ["session_id", "at"])

    op.create_table(
        "priority_numbers",
        sa.Column("number_key", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("added_by", sa.String(80), nullable=False),
        sa.Column("removed_at", TS, nullable=True),
        sa.Column("removed_by", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("number_key", name="pk_priority_numbers"),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("number_key", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("call_id", sa.String(32), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("action_id", sa.String(64), nullable=True),
        sa.Column("placed_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("ended_by", sa.String(80), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index("ix_callbacks_state_requested", "callbacks", ["state", "requested_at"])
    op.create_index("ix_callbacks_number_state", "callbacks", ["number_key", "state"])
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("callback_id", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_callback_attempts"),
        sa.ForeignKeyConstraint(["callback_id"], ["callbacks.id"],
                                name="fk_callback_attempts_callback_id_callbacks"),
    )
    op.create_index("ix_callback_attempts_callback", "callback_attempts", ["callback_id", "id"])


def downgrade() -> None:
    op.drop_table("callback_attempts")
    op.drop_table("callbacks")
    op.drop_table("priority_numbers")
    op.drop_table("leader_calls")
    op.drop_table("leader_sessions")
    op.drop_table("leader_seats")
    op.drop_table("leaders")
