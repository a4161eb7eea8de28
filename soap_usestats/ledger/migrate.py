"""The ledger's schema, created and upgraded by Alembic from the revisions shipped in the
package: ``upgrade(url)`` brings any ledger database to the newest (idempotent)."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, Table, create_engine, inspect, select
from sqlalchemy.engine import Engine, make_url

#: Where Alembic records the ledger's revision.
VERSION_TABLE = "ledger_version"
_SCRIPTS = Path(__file__).parent / "migrations"
_version = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32)))
#: Alembic's context (``alembic.context``, ``alembic.op``) is one per process: two threads
#: upgrading at once (two applications' compilers) would share one's connection.
_upgrading = threading.Lock()


def ledger_engine(url: str) -> Engine:
    """An engine for the ledger at ``url``; an SQLite file's directory is made if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url)


def config() -> Config:
    """Alembic's configuration for the revisions shipped in the package."""
    found = Config()
    found.set_main_option("script_location", str(_SCRIPTS))
    return found


def upgrade(ledger: str | Engine) -> None:
    """Create or upgrade the ledger's tables (at a URL, or through an engine) to the newest
    revision."""
    engine = ledger_engine(ledger) if isinstance(ledger, str) else ledger
    alembic = config()
    with _upgrading, engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "head")
    if isinstance(ledger, str):
        engine.dispose()


def revision(engine: Engine) -> str | None:
    """The ledger's revision (None: no schema yet); reads only, and logs nothing (the
    running service asks at every pass)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.scalar(select(_version.c.version_num))


def newest() -> str:
    """The newest revision this version of the service ships."""
    return ScriptDirectory.from_config(config()).get_current_head()
