"""Alembic's environment for the ledger: runs the revisions on the connection that
``ledger.migrate`` hands over (no alembic.ini needed)."""

from alembic import context

from soap_usestats.ledger.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
