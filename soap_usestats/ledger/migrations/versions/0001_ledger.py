"""The ledger: sites, final rows, users' progress and the compiler's lock.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_site",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("compiled_id", sa.BigInteger, nullable=False),
        sa.Column("final_to", sa.BigInteger),
        sa.Column("updated", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_row",
        sa.Column("site", sa.Integer, sa.ForeignKey("ledger_site.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("logid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("userid", sa.BigInteger, nullable=False),
        sa.Column("timecreated", sa.BigInteger, nullable=False),
        sa.Column("lap", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Integer),
        sa.Column("session", sa.BigInteger, nullable=False),
        sa.Column("courseid", sa.BigInteger, nullable=False),
        sa.Column("cmid", sa.BigInteger),
        sa.Column("label", sa.String(64)),
        sa.Column("part", sa.SmallInteger, nullable=False),
    )
    op.create_index("ledger_row_user_time_ix", "ledger_row", ["site", "userid", "timecreated"])
    op.create_table(
        "ledger_user",
        sa.Column("site", sa.Integer, sa.ForeignKey("ledger_site.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("final_to", sa.BigInteger, nullable=False),
        sa.Column("compiled_id", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_lock",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("ledger_lock", "ledger_user", "ledger_row", "ledger_site"):
        op.drop_table(table)
