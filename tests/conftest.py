"""The fixtures every test may use: a fresh database on each backend, and a Moodle in it.

Where a database server is absent its tests skip, saying so; in CI
(``CI=true``) they fail instead (``tests.support.databases``).
"""

from __future__ import annotations

import tempfile

import pytest

from soap_usestats import config
from tests.support.databases import BACKENDS, fresh_database
from tests.support.moodle import MoodleBuilder


@pytest.fixture(autouse=True)
def own_temporary_directory(tmp_path_factory, monkeypatch):
    """Each test's own temporary directory for what the service keeps there by default (the
    nonce store, with the counts of failed authentications), in process and in the servers a
    test starts: no test meets an address that another throttled, or a nonce it spent."""
    directory = str(tmp_path_factory.mktemp("tmp"))
    monkeypatch.setattr(tempfile, "tempdir", directory)
    monkeypatch.setenv("TMPDIR", directory)


@pytest.fixture(autouse=True, scope="session")
def no_ledger_unless_named(tmp_path_factory):
    """The services the tests make, in process or in the servers they start (a module's
    servers too, started before any test's own fixtures), neither compile a ledger
    (``ledger_interval``) nor find one by default unless a test names it: no test reads
    figures another test compiled, and none writes in the checkout's ``var/``."""
    patch = pytest.MonkeyPatch()
    ledger = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
    patch.setattr(config, "DEFAULT_LEDGER_INTERVAL", 0)
    patch.setenv("USESTATS_LEDGER_INTERVAL", "0")
    patch.setattr(config, "DEFAULT_LEDGER_URL", ledger)
    patch.setenv("USESTATS_LEDGER_URL", ledger)
    yield
    patch.undo()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, tmp_path):
    """The URL of a new, empty database on ``backend``, dropped after the test."""
    url, drop = fresh_database(backend, tmp_path)
    yield url
    drop()


@pytest.fixture
def builder(database_url) -> MoodleBuilder:
    """A Moodle schema in a new database on ``backend``, to fill row by row."""
    b = MoodleBuilder(database_url)
    yield b
    b.engine.dispose()
