"""The database versions the service computes on: those with window functions.

The time model runs in the database with window functions (``over()``): SQLite
3.25, PostgreSQL 8.4, MySQL 8.0 and MariaDB 10.2 have them. An older server is
refused when the service starts, rather than answered with wrong figures.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from ..exceptions import ConfigError

log = logging.getLogger(__name__)

#: The first version of each database with window functions.
MINIMUM = {"sqlite": (3, 25), "postgresql": (8, 4), "mysql": (8, 0), "mariadb": (10, 2)}


def require_window_functions(engine: Engine) -> None:
    """Refuse (:class:`ConfigError`) a database without window functions.

    A database that cannot be reached yet is let through: the service starts,
    and answers ``Server.DatabaseUnavailable`` until it can.
    """
    try:
        with engine.connect() as conn:
            version = conn.dialect.server_version_info or ()
            name = "mariadb" if getattr(conn.dialect, "is_mariadb", False) else conn.dialect.name
    except OperationalError as error:
        log.warning("the Moodle database cannot be reached yet: %s", str(error).splitlines()[0])
        return
    minimum = MINIMUM.get(name)
    if minimum and tuple(version[:2]) < minimum:
        shown = ".".join(str(part) for part in version)
        raise ConfigError(f"{name} {shown} has no window functions; the service needs "
                          f"{name} {'.'.join(map(str, minimum))} or newer")
