"""What an answer may show: the contract's authorisation rules over Moodle's capabilities.

- Site administrators, and holders of the site capability in the system
  context, see anyone's figures at every scope.
- Holders of the own capability see all their own figures: held in the system
  context, or in any course context (where a stock site's roles are assigned:
  block_use_stats gives it to students, teachers and managers). Held in some
  courses only, it still opens all of one's own figures: the time one spent is
  not another person's data.
- Holders of the course capability see a user's figures in the courses where
  they hold it, and nothing beyond them: no site total, no sessions. They may
  see the users of those courses, as Moodle's participants and logs show them:
  enrolled there (any method, any status, any period), or with a log row there.
- Anyone else is refused with ``Client.Forbidden``. A user one may not see is
  refused as one who does not exist, with the same message, and a course where one
  may see nothing as one that does not exist: nobody can probe which users exist.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from ..config import Capabilities
from ..exceptions import Forbidden
from ..moodle.queries import Queries
from ..moodle.siteconfig import SiteConfig
from .capabilities import Permissions


class Viewer:
    """The Moodle user an answer is for, with the capabilities that decide what it shows."""

    def __init__(self, userid: int | None, capabilities: Capabilities,
                 permissions: Permissions | None, config: SiteConfig | None = None) -> None:
        self.userid = userid
        self.capabilities = capabilities
        self.permissions = permissions
        self.config = config
        self._seen: dict[int, bool] = {}  # course id: holds the course capability there

    @classmethod
    def everything(cls, capabilities: Capabilities) -> Viewer:
        """The operator's in-process tools: no Moodle user, no restriction."""
        return cls(None, capabilities, None)

    @classmethod
    def of(cls, conn: Connection, queries: Queries, config: SiteConfig,
           capabilities: Capabilities, userid: int) -> Viewer:
        """Moodle user ``userid`` as a viewer, with their capabilities in the system
        context and their role assignments (a bounded number of queries)."""
        names = [capabilities.site, capabilities.course, capabilities.own]
        return cls(userid, capabilities, Permissions.load(conn, queries, config, userid, names),
                   config)

    @property
    def sees_everyone(self) -> bool:
        p = self.permissions
        return p is None or p.is_siteadmin or p.in_system(self.capabilities.site)

    def sees_all_of(self, userid: int) -> bool:
        """Whether every figure of ``userid`` may be shown: anyone's, or one's own."""
        return self.sees_everyone or (userid == self.userid and self.sees_own)

    @property
    def sees_own(self) -> bool:
        """Whether the viewer holds the own capability in the system context or in some course."""
        p, own = self.permissions, self.capabilities.own
        return p is None or p.in_system(own) or p.in_some_course(own)

    def visible(self, conn: Connection, queries: Queries, users: Sequence[Row]) -> list[Row]:
        """Those of ``users`` the viewer may see: all of them for a viewer who sees everyone;
        else themself, and the users enrolled in, or with a log row in, a course where the
        viewer holds the course capability.

        A bounded number of statements, whatever the number of users and courses.
        """
        if self.sees_everyone:
            return list(users)
        others = [user.id for user in users if user.id != self.userid]
        courses = {}
        if others and self.permissions.may_hold_anywhere(self.capabilities.course):
            courses = queries.user_courses(conn, others)
        seen = self.courses_seen(conn, queries, {c for ids in courses.values() for c in ids})
        return [user for user in users
                if user.id == self.userid or not seen.isdisjoint(courses.get(user.id, ()))]

    def hidden_user(self) -> Forbidden:
        """The refusal of a target user the viewer may not see, and of one who does not
        exist: the same, so that nobody can probe which users exist."""
        c = self.capabilities
        return Forbidden(f"targetuser names no user whose figures you may see: another user's "
                         f"figures need {c.site} in the system context, or {c.course} in a "
                         f"course of theirs; one's own need {c.own}")

    def hidden_course(self) -> Forbidden:
        """The refusal of a course where the viewer may see nothing, and of one that does
        not exist: the same."""
        c = self.capabilities
        return Forbidden(f"courseidentifier names no course whose figures you may see: they "
                         f"need {c.course} in the course, or {c.site} in the system context")

    def unknown_course(self, error: Exception) -> Exception:
        """What to raise for a course that does not exist: only wide viewers learn it."""
        return error if self.sees_everyone else self.hidden_course()

    def require_course_reader(self, scope: str) -> None:
        """Refuse a viewer limited to courses unless the scope reports per course."""
        if scope == "site":
            raise self._forbidden("site-wide figures of another user")
        if not self.permissions.may_hold_anywhere(self.capabilities.course):
            raise self._forbidden("this user's figures")

    def courses_seen(self, conn: Connection, queries: Queries,
                     courseids: Collection[int]) -> frozenset[int]:
        """Those of ``courseids`` where the viewer holds the course capability (each course
        is looked at once in a call)."""
        missing = set(courseids) - self._seen.keys()
        if missing:
            capability = self.capabilities.course
            permissions = Permissions.load(conn, queries, self.config, self.userid, [capability],
                                           missing)
            self._seen |= {c: permissions.in_course(capability, c) for c in missing}
        return frozenset(c for c in courseids if self._seen[c])

    def require_course(self, conn: Connection, queries: Queries, target: int, courseid: int) -> None:
        """Refuse unless the viewer may see ``target``'s figures in one course."""
        if not self.sees_all_of(target) and courseid not in self.courses_seen(conn, queries, [courseid]):
            raise self.hidden_course()

    def require_everyone(self) -> None:
        """Refuse a population beyond one course (listed users, everyone) unless the viewer
        sees everyone."""
        if not self.sees_everyone:
            raise self._forbidden("the figures of many users")

    def require_course_population(self, conn: Connection, queries: Queries, courseid: int,
                                  scope: str) -> None:
        """Refuse a course's users unless the viewer sees everyone, or holds the course
        capability in that course and asks for figures per course or activity."""
        if self.sees_everyone:
            return
        if courseid not in self.courses_seen(conn, queries, [courseid]):
            raise self.hidden_course()
        self.require_course_reader(scope)

    def _forbidden(self, what: str) -> Forbidden:
        c = self.capabilities
        return Forbidden(f"not allowed to see {what}: it needs {c.site} in the system context, "
                         f"{c.course} in the course, or {c.own} (in the system context or a "
                         f"course) for one's own")
