"""The fixtures every test may use: a fresh database on each backend, and a Moodle in it.

Where a database server is absent its tests skip, saying so; in CI
(``CI=true``) they fail instead (``tests.support.databases``).
"""

from __future__ import annotations

import pytest

from tests.support.databases import BACKENDS, fresh_database
from tests.support.moodle import MoodleBuilder


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
