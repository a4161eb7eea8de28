"""ledger_quarter, ledger_period and ledger_session: the booked rows summed per quarter
hour and place, per four weeks and place, and per session (``tables``), summed from
``ledger_row`` here, so that a ledger upgraded answers from them at once, with no pass to
run again.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from soap_usestats.ledger import rollup

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("ledger_quarter", "ledger_period"):
        op.create_table(
            name,
            sa.Column("site", sa.Integer, nullable=False),
            sa.Column("userid", sa.BigInteger, nullable=False),
            sa.Column("bucket", sa.BigInteger, nullable=False),
            sa.Column("courseid", sa.BigInteger, nullable=False),
            sa.Column("cmid", sa.BigInteger),
            sa.Column("part", sa.SmallInteger, nullable=False),
            sa.Column("label", sa.String(64)),
            sa.Column("seconds", sa.BigInteger, nullable=False),
            sa.Column("events", sa.Integer, nullable=False),
            sa.Column("first", sa.BigInteger, nullable=False),
            sa.Column("last", sa.BigInteger, nullable=False),
            sa.Column("newest", sa.String(40)),
        )
        op.create_index(f"{name}_user_bucket_ix", name, ["site", "userid", "bucket"])
    op.create_table(
        "ledger_session",
        sa.Column("site", sa.Integer, sa.ForeignKey("ledger_site.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("session", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("session_row", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("last", sa.BigInteger, nullable=False),
        sa.Column("end", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
    )
    op.create_index("ledger_session_user_last_ix", "ledger_session", ["site", "userid", "last"])
    rollup.fill(op.get_bind())


def downgrade() -> None:
    for table in ("ledger_session", "ledger_period", "ledger_quarter"):
        op.drop_table(table)
