"""What rarely changes on a site, read once and reused for ``cache_seconds``.

A site's settings (``config``), its block settings (``config_plugins``) and its
role definitions (``role_capabilities``) change when an administrator edits
them; a host may reuse what it read for a bounded time. A token, the target
user and role assignments are never cached: they are read on every call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Hashable, Iterable
from typing import TypeVar

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from .queries import Queries
from .tables import MoodleTables

T = TypeVar("T")


class TtlCache:
    """Values by key, each kept ``seconds`` after it was loaded; 0 keeps nothing."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._values: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value of ``key``: kept, or loaded now (outside the lock) and kept."""
        if self.seconds <= 0:
            return load()
        now = self._clock()
        with self._lock:
            kept = self._values.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        value = load()
        with self._lock:
            self._values[key] = (now + self.seconds, value)
        return value


class CachingQueries(Queries):
    """The site's queries, reusing the answers about its settings and role definitions."""

    def __init__(self, tables: MoodleTables, cache: TtlCache) -> None:
        super().__init__(tables)
        self.cache = cache

    def config(self, conn: Connection, names: Collection[str]) -> dict[str, str]:
        names, read = tuple(sorted(names)), super().config
        return self.cache.get(("config", names), lambda: read(conn, names))

    def plugin_config(self, conn: Connection, plugin: str) -> dict[str, str]:
        read = super().plugin_config
        return self.cache.get(("config_plugins", plugin), lambda: read(conn, plugin))

    def role_definitions(self, conn: Connection, roleids: Iterable[int],
                         capabilities: Collection[str]) -> list[Row]:
        roleids, capabilities, read = frozenset(roleids), frozenset(capabilities), super().role_definitions
        return self.cache.get(("role_capabilities", roleids, capabilities),
                              lambda: read(conn, roleids, capabilities))
