"""Who an answer is for, and what it may show: the contract's authorisation rules over
Moodle's capabilities.

The answer is for the token's owner, the client's configured Moodle user, or the
``callinguser`` a trusted client asserts; from anyone else ``callinguser`` must
name the authenticated user or be absent.

- Site administrators, and holders of the site capability in the system
  context, see anyone's figures at every scope.
- Holders of the own capability see their own figures.
- Holders of the course capability see a user's figures in the courses where
  they hold it, and nothing beyond them: no site total, no sessions.
- Anyone else is refused with ``Client.Forbidden``, including when the target
  does not exist, so that users cannot be probed.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.engine import Connection

from . import params
from .access import Permissions
from .caller import Caller
from .config import Capabilities
from .exceptions import Forbidden
from .messages import CallingUser
from .queries import Queries


class Viewer:
    """The Moodle user an answer is for, with the capabilities that decide what it shows."""

    def __init__(self, userid: int | None, capabilities: Capabilities,
                 permissions: Permissions | None) -> None:
        self.userid = userid
        self.capabilities = capabilities
        self.permissions = permissions

    @classmethod
    def everything(cls, capabilities: Capabilities) -> Viewer:
        """The operator's in-process tools: no Moodle user, no restriction."""
        return cls(None, capabilities, None)

    @classmethod
    def of(cls, conn: Connection, queries: Queries, capabilities: Capabilities, caller: Caller,
           callinguser: CallingUser | None, localhost: int) -> Viewer:
        """The viewer of a call: the caller's Moodle user, or the one a trusted client asserts,
        with their capabilities in the system context (a bounded number of queries)."""
        if caller.unrestricted:
            return cls.everything(capabilities)
        userid = _acting_user(conn, queries, caller, callinguser, localhost)
        names = [capabilities.site, capabilities.course, capabilities.own]
        return cls(userid, capabilities, Permissions.load(conn, queries, userid, names))

    @property
    def sees_everyone(self) -> bool:
        p = self.permissions
        return p is None or p.is_siteadmin or p.in_system(self.capabilities.site)

    def sees_all_of(self, userid: int) -> bool:
        """Whether every figure of ``userid`` may be shown: anyone's, or one's own."""
        return self.sees_everyone or (
            userid == self.userid and self.permissions.in_system(self.capabilities.own))

    def refuse_unknown(self, error: Exception) -> Exception:
        """What to raise for a target that does not exist: only wide viewers learn it."""
        return error if self.sees_everyone else self._forbidden("this user's figures")

    def require_course_reader(self, scope: str) -> None:
        """Refuse a viewer limited to courses unless the scope reports per course."""
        if scope == "site":
            raise self._forbidden("site-wide figures of another user")
        if not self.permissions.may_hold_anywhere(self.capabilities.course):
            raise self._forbidden("this user's figures")

    def courses_seen(self, conn: Connection, queries: Queries,
                     courseids: Collection[int]) -> frozenset[int]:
        """Those of ``courseids`` where the viewer holds the course capability."""
        capability = self.capabilities.course
        permissions = Permissions.load(conn, queries, self.userid, [capability], courseids)
        return frozenset(c for c in courseids if permissions.in_course(capability, c))

    def require_course(self, conn: Connection, queries: Queries, target: int, courseid: int) -> None:
        """Refuse unless the viewer may see ``target``'s figures in one course."""
        if not self.sees_all_of(target) and courseid not in self.courses_seen(conn, queries, [courseid]):
            raise self._forbidden("this user's figures in this course")

    def _forbidden(self, what: str) -> Forbidden:
        c = self.capabilities
        return Forbidden(f"not allowed to see {what}: it needs {c.site} in the system context, "
                         f"{c.course} in the course, or {c.own} for one's own")


def _acting_user(conn: Connection, queries: Queries, caller: Caller,
                 callinguser: CallingUser | None, localhost: int) -> int:
    """The Moodle user the answer is for: the caller's own, or the one a trusted client asserts."""
    asserted = ((callinguser.username if callinguser else None) or "").strip()
    if asserted:
        host = _calling_host(conn, queries, callinguser.remoteuserhostroot, localhost)
        if caller.trusted:
            return _calling_user(conn, queries, asserted, host)
    if caller.userid is not None:
        acting = caller.userid
    elif caller.username:
        acting = _calling_user(conn, queries, caller.username, localhost)
    else:
        raise Forbidden("this credential acts for no Moodle user: configure its user, "
                        "or mark it trusted and send callinguser")
    if asserted and acting != _calling_user(conn, queries, asserted, host):
        raise Forbidden("callinguser must name the authenticated user; "
                        "only a trusted client may assert another")
    return acting


def _calling_host(conn: Connection, queries: Queries, root: str | None, localhost: int) -> int:
    """The MNET host of ``callinguser``: this site, or a peer named by its wwwroot."""
    asked = params.wwwroot(root)
    if not asked or asked == params.wwwroot(queries.wwwroot(conn, localhost)):
        return localhost
    hosts = queries.mnet_host_ids(conn, root.strip().rstrip("/"))
    if len(hosts) != 1:
        raise Forbidden(f"callinguser's host {root.strip()!r} is not an MNET peer of this site")
    return hosts[0]


def _calling_user(conn: Connection, queries: Queries, username: str, host: int) -> int:
    users = queries.find_users(conn, "username", username, host)
    if len(users) != 1:
        raise Forbidden(f"callinguser {username!r} is not a user of this site")
    return users[0].id
