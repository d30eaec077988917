"""call records: self-service result and what Asterisk did after the hand-off

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("kb_entry", sa.String(64), nullable=True))
        batch.add_column(sa.Column("kb_score", sa.Float, nullable=True))
        batch.add_column(sa.Column("kb_result", sa.String(16), nullable=True))
        batch.add_column(sa.Column("agent_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("agent_answered", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for name in ("agent_answered", "agent_status", "kb_result", "kb_score", "kb_entry"):
            batch.drop_column(name)
