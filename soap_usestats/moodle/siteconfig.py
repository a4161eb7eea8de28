"""What a site keeps in ``mdl_config`` (``$CFG``), read once per call, and its wwwroot.

The service reads a handful of settings: those of web service tokens, of
capability resolution, and the site's MNET identity. :meth:`SiteConfig.read`
fetches them all in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from .queries import Queries

#: Every ``config`` setting the service reads.
NAMES = (
    "mnet_localhost_id",
    # the key of GetUsersStats cursors, where no secret key is configured
    "siteidentifier",
    # the default time zone of days
    "forcetimezone", "timezone",
    # web service tokens
    "enablewebservices", "sessiontimeout",
    # capability resolution
    "siteadmins", "siteguest", "defaultuserroleid", "guestroleid", "notloggedinroleid",
    "defaultfrontpageroleid",
    # course completion, site-wide
    "enablecompletion",
)


@dataclass(frozen=True)
class SiteConfig:
    """The site's settings the service reads, by name (absent ones are missing)."""

    values: Mapping[str, str]

    @classmethod
    def read(cls, conn: Connection, queries: Queries) -> SiteConfig:
        return cls(queries.config(conn, NAMES))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    @property
    def timezone(self) -> str:
        """The site's time zone: ``forcetimezone``, else ``timezone``, where set and not
        ``99`` (the user's own, in Moodle); else UTC."""
        for name in ("forcetimezone", "timezone"):
            value = (self.values.get(name) or "").strip()
            if value and value != "99":
                return value
        return "UTC"

    @property
    def localhost(self) -> int:
        """This site's own ``mnet_host`` id (``$CFG->mnet_localhost_id``)."""
        return int(self.values.get("mnet_localhost_id") or 1)

    @property
    def tracks_completion(self) -> bool:
        """Whether completion tracking is on for the site (``$CFG->enablecompletion``)."""
        return (self.values.get("enablecompletion") or "").strip() == "1"

    @property
    def guest(self) -> int:
        """The site's guest user (``$CFG->siteguest``); 0 when there is none."""
        value = (self.values.get("siteguest") or "").strip()
        return int(value) if value.isdigit() else 0
