"""The ledger's Alembic environment: ``env.py`` and the revisions in ``versions``."""
