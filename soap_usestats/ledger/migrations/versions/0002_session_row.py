"""ledger_row.session_row: the log id of the session's first processed row, which tells
apart two sessions begun in the same second (a login, or a row after a logout, in the
second of the row before it). Every site compiles again (its settings emptied); the
bookings of rows the log no longer holds keep NULL.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_row", sa.Column("session_row", sa.BigInteger))
    site = sa.table("ledger_site", sa.column("settings", sa.Text))
    op.execute(site.update().values(settings=""))


def downgrade() -> None:
    op.drop_column("ledger_row", "session_row")
