"""ledger_row without its foreign key to ledger_site: checking it costs a first compile
about a third of its time on PostgreSQL, and sites are never deleted. SQLite never
checks it (the service does not turn its foreign keys on) and keeps it: taking it off
there would copy the whole table.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    for key in sa.inspect(bind).get_foreign_keys("ledger_row"):
        op.drop_constraint(key["name"], "ledger_row", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key(None, "ledger_row", "ledger_site", ["site"], ["id"])
