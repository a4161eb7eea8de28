"""ledger_kept: what a change of a site's settings leaves booked under the old ones (the
rows the log no longer holds), so that ``check`` names those settings. A change made
before this revision left no record.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_kept",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.Integer, sa.ForeignKey("ledger_site.id"), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("log_from", sa.BigInteger, nullable=False),
        sa.Column("rows_kept", sa.BigInteger, nullable=False),
        sa.Column("changed", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_kept")
