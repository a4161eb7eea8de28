"""Fresh databases for tests: SQLite always, PostgreSQL and MariaDB when their servers answer.

Each test gets its own uniquely named database, created here and dropped after.
Where a server is absent the tests on it skip, saying so; in CI (``CI=true``)
an absent server fails them instead.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SERVERS = {
    "postgresql": os.environ.get(
        "USESTATS_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get(
        "USESTATS_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/mysql?charset=utf8mb4"),
}
BACKENDS = ["sqlite", *SERVERS]
_unreachable: dict[str, str] = {}


def _admin(backend: str):
    """An AUTOCOMMIT engine on the server's maintenance database, or skip/fail when down."""
    if backend in _unreachable:
        _absent(backend, _unreachable[backend])
    engine = create_engine(SERVERS[backend], isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 3})
    try:
        engine.connect().close()
    except Exception as error:  # noqa: BLE001 - any failure means the server is not usable
        _unreachable[backend] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        engine.dispose()
        _absent(backend, _unreachable[backend])
    return engine


def _absent(backend: str, reason: str):
    message = f"{backend} server at {make_url(SERVERS[backend]).render_as_string()} is not reachable ({reason})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI requires every database server")
    pytest.skip(message)


def fresh_database(backend: str, tmp_path) -> tuple[str, callable]:
    """A new empty database: its URL and a function that drops it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'moodle-{uuid.uuid4().hex[:8]}.sqlite'}", lambda: None
    admin = _admin(backend)
    name = f"usestats_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        if backend == "mariadb":
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        else:
            conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(SERVERS[backend]).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()

    return url, drop
