"""The ledger's schema, made by its Alembic revisions from nothing (idempotent), and its lock:
one compiler at a time, a crashed one's lease expiring."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from soap_usestats.ledger import migrate, tables
from soap_usestats.ledger.lock import Lease, LockHeld, LockLost
from tests.support.databases import fresh_database


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def ledger_url(request, tmp_path):
    url, drop = fresh_database(request.param, tmp_path)
    yield url
    drop()


def test_the_revisions_make_the_tables_from_nothing_and_again_change_nothing(ledger_url):
    engine = migrate.ledger_engine(ledger_url)
    assert migrate.revision(engine) is None
    migrate.upgrade(ledger_url)
    migrate.upgrade(ledger_url)
    assert migrate.revision(engine) == migrate.newest()
    inspector = inspect(engine)
    assert set(tables.metadata.tables) <= set(inspector.get_table_names())
    for table in tables.metadata.tables.values():
        assert [c["name"] for c in inspector.get_columns(table.name)] == [c.name for c in table.c]
    assert [ix["column_names"] for ix in inspector.get_indexes("ledger_row")] == [
        ["site", "userid", "timecreated"]]
    if engine.dialect.name != "sqlite":  # SQLite never checks it (revision 0004)
        assert inspector.get_foreign_keys("ledger_row") == []
    engine.dispose()


def test_an_sqlite_ledger_s_directory_is_made(tmp_path):
    migrate.upgrade(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}")
    assert (tmp_path / "var" / "ledger.sqlite").exists()


def test_one_compiler_holds_the_lock_until_it_releases_it_or_its_lease_expires(ledger_url):
    migrate.upgrade(ledger_url)
    engine = migrate.ledger_engine(ledger_url)
    clock = [1000.0]
    first, second = (Lease(engine, seconds=60, clock=lambda: clock[0]) for _ in range(2))
    first.acquire()
    with pytest.raises(LockHeld, match="another compiler holds the ledger"):
        second.acquire()
    first.renew(force=True)
    first.release()
    second.acquire()                # released: the next one takes it
    clock[0] += 61                  # the second crashed: its lease runs out
    first.acquire()
    with pytest.raises(LockLost):
        second.renew(force=True)
    first.release()
    engine.dispose()
