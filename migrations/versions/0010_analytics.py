"""analytics: weak-signal alerts and their tickets, the export log; indexes the reports need

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# indexes on other packages' tables, for reports by period (declared in their models too)
FOREIGN_INDEXES = (
    ("ix_tickets_received_at", "tickets", ["received_at"]),
    ("ix_tickets_rated_at", "tickets", ["rated_at"]),
    ("ix_calls_started_at", "calls", ["started_at"]),
    ("ix_block_events_action_at", "block_events", ["action", "at"]),
)


def upgrade() -> None:
    op.create_table(
        "signal_alerts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("cluster_key", sa.String(200), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("last_at", TS, nullable=False),
        sa.Column("ticket_count", sa.Integer, nullable=False),
        sa.Column("window_count", sa.Integer, nullable=False),
        sa.Column("peak_count", sa.Integer, nullable=False),
        sa.Column("expected", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signal_alerts"),
    )
    op.create_index("ix_signal_alerts_state_last_at", "signal_alerts", ["state", "last_at"])
    op.create_index("ix_signal_alerts_cluster_key", "signal_alerts", ["cluster_key", "state"])
    op.create_table(
        "signal_alert_tickets",
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "ticket_id", name="pk_signal_alert_tickets"),
        sa.ForeignKeyConstraint(["alert_id"], ["signal_alerts.id"],
                                name="fk_signal_alert_tickets_alert_id_signal_alerts"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_signal_alert_tickets_ticket_id_tickets"),
    )
    op.create_index("ix_signal_alert_tickets_ticket_id", "signal_alert_tickets", ["ticket_id"])
    op.create_table(
        "export_log",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("what", sa.String(32), nullable=False),
        sa.Column("schema", sa.String(64), nullable=False),
        sa.Column("personal_data", sa.Boolean, nullable=False),
        sa.Column("date_from", sa.Date, nullable=True),
        sa.Column("date_to", sa.Date, nullable=True),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("destination", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_export_log"),
    )
    op.create_index("ix_export_log_at", "export_log", ["at"])
    for name, table, columns in FOREIGN_INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(FOREIGN_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_export_log_at", table_name="export_log")
    op.drop_table("export_log")
    op.drop_index("ix_signal_alert_tickets_ticket_id", table_name="signal_alert_tickets")
    op.drop_table("signal_alert_tickets")
    op.drop_index("ix_signal_alerts_cluster_key", table_name="signal_alerts")
    op.drop_index("ix_signal_alerts_state_last_at", table_name="signal_alerts")
    op.drop_table("signal_alerts")
