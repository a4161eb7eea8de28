"""One Moodle site the service answers for: its database, its tables, its settings.

The two operations run here, each in one read-only transaction: resolve who
the answer is for and the target user (and course), check what the one may see
of the other, read the site's time model settings, stream the log through the
time engine, then look up the names of what the figures are about.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Row
from sqlalchemy.engine import Connection, Engine

from . import params, reports
from .caller import Caller
from .config import (
    Capabilities,
    ConfigError,
    Settings,
    TimeModelOverrides,
    effective_time_model,
    parse_time_model,
)
from .database import connect, read_only
from .exceptions import UnknownCourse, UnknownHost, UnknownUser
from .messages import CallingUser, UserScores, UseStats
from .policy import Viewer
from .queries import Queries
from .tables import MoodleTables
from .timemodel import TimeSettings, Usage, estimate

log = logging.getLogger(__name__)

BLOCK = "block_use_stats"


class MoodleSite:
    """A Moodle site read through its database, with the deployment's time model overrides."""

    def __init__(self, engine: Engine, tables: MoodleTables,
                 overrides: TimeModelOverrides | None = None,
                 capabilities: Capabilities | None = None) -> None:
        self.engine = engine
        self.queries = Queries(tables)
        self.overrides = overrides or TimeModelOverrides()
        self.capabilities = capabilities or Capabilities()

    @classmethod
    def from_settings(cls, settings: Settings) -> MoodleSite:
        return cls(connect(settings.database_url), MoodleTables(settings.table_prefix),
                   settings.use_stats, settings.capabilities)

    def get_stats(self, targetuser: str | None, targetuserfield: str | None = None,
                  whereroot: str | None = None, statsscope: str | None = None,
                  timefrom: int | None = None, timeto: int | None = None, *,
                  now: int, caller: Caller, callinguser: CallingUser | None = None) -> UseStats:
        """Time spent by one user in the window, at the scope's level of detail,
        as far as ``caller`` (or the ``callinguser`` it asserts) may see it."""
        scope = params.stats_scope(statsscope)
        field = params.user_field(targetuserfield)
        value = params.identifier("targetuser", targetuser, field)
        start, end = params.window(timefrom, timeto, now)
        with read_only(self.engine) as conn:
            localhost = self._local_host(conn, whereroot)
            viewer = Viewer.of(conn, self.queries, self.capabilities, caller, callinguser, localhost)
            user = self._target(conn, viewer, field, value, localhost)
            limited = not viewer.sees_all_of(user.id)
            if limited:
                viewer.require_course_reader(scope)
            settings, enrolmentfilter = self._time_settings(conn)
            if enrolmentfilter:
                enrolled = self.queries.latest_enrolment_start(conn, user.id, end)
                start = max(start, enrolled or start)
            usage = estimate(self.queries.log_events(conn, user.id, start, end), end, settings)
            if limited:
                usage = usage.within(viewer.courses_seen(conn, self.queries, usage.courses))
            courses, modules = {}, {}
            if scope == "course":
                courses = self.queries.courses(conn, usage.courses)
            elif scope == "module":
                courses = self.queries.courses(conn, {m.courseid for m in usage.modules.values()})
                modules = self._modules(conn, usage)
        return reports.use_stats(user, (start, end), usage, scope, courses, modules)

    def get_scores(self, targetuser: str | None, targetuserfield: str | None = None,
                   whereroot: str | None = None, scorescope: str | None = None,
                   courseidfield: str | None = None, courseidentifier: str | None = None, *,
                   caller: Caller, callinguser: CallingUser | None = None) -> UserScores:
        """Grades of one user in one course: the course total, and every item on demand."""
        scope = params.score_scope(scorescope)
        field = params.user_field(targetuserfield)
        value = params.identifier("targetuser", targetuser, field)
        cfield = params.course_field(courseidfield)
        cvalue = params.identifier("courseidentifier", courseidentifier, cfield)
        with read_only(self.engine) as conn:
            localhost = self._local_host(conn, whereroot)
            viewer = Viewer.of(conn, self.queries, self.capabilities, caller, callinguser, localhost)
            user = self._target(conn, viewer, field, value, localhost)
            try:
                course = self._course(conn, cfield, cvalue)
            except UnknownCourse as error:
                raise viewer.refuse_unknown(error) from None
            viewer.require_course(conn, self.queries, user.id, course.id)
            grades = self.queries.grades(conn, course.id, user.id)
        return reports.user_scores(user, course, grades, with_items=scope == "notes/items")

    def _target(self, conn: Connection, viewer: Viewer, field: str, value: str | int,
                localhost: int) -> Row:
        try:
            return self._user(conn, field, value, localhost)
        except UnknownUser as error:
            raise viewer.refuse_unknown(error) from None

    def _local_host(self, conn: Connection, whereroot: str | None) -> int:
        """This site's MNET host id, once ``whereroot`` is known to name this site."""
        localhost = int(self.queries.config(conn, ["mnet_localhost_id"]).get("mnet_localhost_id", 1))
        asked = params.wwwroot(whereroot)
        if asked and asked != params.wwwroot(self.queries.wwwroot(conn, localhost)):
            raise UnknownHost(f"no Moodle site is configured for whereroot {whereroot.strip()!r}")
        return localhost

    def _user(self, conn: Connection, field: str, value: str | int, localhost: int) -> Row:
        users = self.queries.find_users(conn, field, value, localhost)
        if not users:
            raise UnknownUser(f"no user has {field} {value!r}")
        if len(users) > 1:
            raise UnknownUser(f"more than one user has {field} {value!r}; ask by another field")
        return users[0]

    def _course(self, conn: Connection, field: str, value: str | int) -> Row:
        courses = self.queries.find_courses(conn, field, value)
        if not courses:
            raise UnknownCourse(f"no course has {field} {value!r}")
        if len(courses) > 1:
            raise UnknownCourse(f"more than one course has {field} {value!r}; ask by another field")
        return courses[0]

    def _time_settings(self, conn: Connection) -> tuple[TimeSettings, bool]:
        """The site's block_use_stats settings, with the deployment's overrides on top."""
        try:
            site = parse_time_model(self.queries.plugin_config(conn, BLOCK))
        except ConfigError as error:
            log.warning("ignoring the site's %s settings: %s", BLOCK, error)
            site = TimeModelOverrides()
        chosen = effective_time_model(self.overrides, site)
        values = {name: value for name, (value, _) in chosen.items()}
        enrolmentfilter = values.pop("enrolmentfilter")
        return TimeSettings(**values), enrolmentfilter

    def _modules(self, conn: Connection, usage: Usage) -> Mapping[int, tuple[Row | None, str]]:
        """Each counted course module with its row (None once deleted) and activity name."""
        cms = self.queries.course_modules(conn, usage.modules)
        by_type: dict[str, list[int]] = defaultdict(list)
        for cm in cms.values():
            by_type[cm.modname].append(cm.instance)
        names = {modname: self.queries.activity_names(conn, modname, instances)
                 for modname, instances in by_type.items()}
        found = {}
        for cmid in usage.modules:
            cm = cms.get(cmid)
            found[cmid] = (cm, names[cm.modname].get(cm.instance, "") if cm else "")
        return found
