"""tickets: units, tickets, their calls and append-only history, number counters, versioned
dispatch rules, extension requests, closure reports

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("duties", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.UniqueConstraint("code", name="uq_units_code"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("number", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("caller_key", sa.String(32), nullable=False),
        sa.Column("caller_name", sa.String(80), nullable=False),
        sa.Column("call_id", sa.String(32), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("recording_path", sa.String(255), nullable=True),
        sa.Column("unit_id", sa.Integer, nullable=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("tags", sa.String(255), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("zone", sa.String(40), nullable=False),
        sa.Column("working_days", sa.Integer, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("due", TS, nullable=False),
        sa.Column("provisional", sa.Boolean, nullable=False),
        sa.Column("due_soon", sa.Boolean, nullable=False),
        sa.Column("overdue", sa.Boolean, nullable=False),
        sa.Column("review", sa.Boolean, nullable=False),
        sa.Column("refusal_code", sa.String(32), nullable=True),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("rated_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("duplicate_of", sa.Integer, nullable=True),
        sa.Column("repeats", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("number", name="uq_tickets_number"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_tickets_unit_id_units"),
        sa.ForeignKeyConstraint(["duplicate_of"], ["tickets.id"], name="fk_tickets_duplicate_of_tickets"),
    )
    op.create_index("ix_tickets_caller_state", "tickets", ["caller_key", "state"])
    op.create_index("ix_tickets_state_due", "tickets", ["state", "due"])
    op.create_index("ix_tickets_unit_state", "tickets", ["unit_id", "state"])
    op.create_index("ix_tickets_call_id", "tickets", ["call_id"])
    op.create_index("ix_tickets_closed_at", "tickets", ["closed_at"])
    op.create_table(
        "ticket_calls",
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "call_id", name="pk_ticket_calls"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_calls_ticket_id_tickets"),
    )
    op.create_index("ix_ticket_calls_call_id", "ticket_calls", ["call_id"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_events_ticket_id_tickets"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id", "id"])
    op.create_table(
        "ticket_counters",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_ticket_counters"),
    )
    op.create_table(
        "dispatch_rule_sets",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("restored_from", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispatch_rule_sets"),
        sa.UniqueConstraint("version", name="uq_dispatch_rule_sets_version"),
    )
    op.create_table(
        "ticket_extensions",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_extensions"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_extensions_ticket_id_tickets"),
    )
    op.create_index("ix_ticket_extensions_ticket_id", "ticket_extensions", ["ticket_id"])
    op.create_table(
        "closure_reports",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("unit_id", sa.Integer, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("resolved", sa.Boolean, nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("review", sa.String(16), nullable=False),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("review_note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_closure_reports"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_closure_reports_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_closure_reports_unit_id_units"),
    )
    op.create_index("ix_closure_reports_ticket_id", "closure_reports", ["ticket_id"])
    # the history is append-only: the database refuses to change an event
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION ticket_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'ticket_events is append-only'; END; $$")
        op.execute("CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events "
                   "FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only()")
    else:
        op.execute("CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events "
                   "BEGIN SELECT RAISE(ABORT, 'ticket_events is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_events_no_update ON ticket_events")
        op.execute("DROP FUNCTION IF EXISTS ticket_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ticket_events_no_update")
    op.drop_index("ix_closure_reports_ticket_id", "closure_reports")
    op.drop_table("closure_reports")
    op.drop_index("ix_ticket_extensions_ticket_id", "ticket_extensions")
    op.drop_table("ticket_extensions")
    op.drop_table("dispatch_rule_sets")
    op.drop_table("ticket_counters")
    op.drop_index("ix_ticket_events_ticket_id", "ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_ticket_calls_call_id", "ticket_calls")
    op.drop_table("ticket_calls")
    for name in ("ix_tickets_closed_at", "ix_tickets_call_id", "ix_tickets_unit_state", "ix_tickets_state_due",
                 "ix_tickets_caller_state"):
        op.drop_index(name, "tickets")
    op.drop_table("tickets")
    op.drop_table("units")
