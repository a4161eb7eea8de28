"""One Moodle site the service answers for: its database, its tables, its settings.

Each operation runs in one read-only transaction: read the site's settings,
learn whom the answer is for (checking a token first), check the parameters and
what that user may see of the target, then compute the figures and look up the
names of what they are about. The answers are plain data (``results``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.engine import Connection, Engine

from ..access.rules import Viewer
from ..auth import tokens
from ..auth.caller import Caller, CallingUser
from ..config import Capabilities, Settings
from ..exceptions import ConfigError, InvalidParameter, UnknownCourse, UnknownHost, UnknownUser
from ..moodle.cache import CachingQueries, TtlCache
from ..moodle.database import connect, read_only
from ..moodle.siteconfig import SiteConfig, same_wwwroot
from ..moodle.tables import MoodleTables
from ..moodle.versions import require_window_functions
from ..timemodel import settings as time_model
from ..timemodel import sql
from ..timemodel.engine import Usage
from ..timemodel.settings import BlockSettings, EffectiveModel, TimeModelOverrides
from . import params
from .identity import acting_user
from .results import (
    CourseFigures,
    CourseName,
    Grade,
    GradeItem,
    ModuleFigures,
    Person,
    Scores,
    Stats,
)

log = logging.getLogger(__name__)

GRADE_PLACES = Decimal("0.00001")
#: Grade types with a score: 1 value, 2 scale (0 none and 3 text have none).
SCORED_GRADE_TYPES = (1, 2)

T = TypeVar("T")


@dataclass(frozen=True)
class _Call:
    """One operation's transaction, the site's settings, and the caller behind it."""

    conn: Connection
    config: SiteConfig
    caller: Caller
    userid: int | None   # the token's owner, once accepted


class MoodleSite:
    """A Moodle site read through its database, with the deployment's time model overrides."""

    def __init__(self, engine: Engine, tables: MoodleTables,
                 overrides: TimeModelOverrides | None = None,
                 capabilities: Capabilities | None = None, cache_seconds: int = 0) -> None:
        self.engine = engine
        self.queries = CachingQueries(tables, TtlCache(cache_seconds))
        self.overrides = overrides or TimeModelOverrides()
        self.capabilities = capabilities or Capabilities()

    @classmethod
    def from_settings(cls, settings: Settings) -> MoodleSite:
        """The site of the configuration; refuses a database without window functions."""
        engine = connect(settings.database_url)
        require_window_functions(engine)
        return cls(engine, MoodleTables(settings.table_prefix), settings.use_stats,
                   settings.capabilities, settings.cache_seconds)

    def get_stats(self, targetuser: str | None, targetuserfield: str | None = None,
                  whereroot: str | None = None, statsscope: str | None = None,
                  timefrom: int | None = None, timeto: int | None = None, *,
                  now: int, caller: Caller, callinguser: CallingUser | None = None,
                  daily: bool = False, timezone: str | None = None) -> Stats:
        """Time spent by one user in the window, at the scope's level of detail (and per
        day when ``daily``), as far as ``caller`` (or the ``callinguser`` it asserts) may see it."""
        def check():
            field = params.user_field(targetuserfield)
            return (field, params.identifier("targetuser", targetuser, field),
                    params.figures(statsscope, timefrom, timeto, now, daily, timezone))

        with self._call(caller, now, check) as (call, (field, value, asked)):
            conn = call.conn
            self._answer_for_this_site(call, whereroot)
            viewer = self._viewer(call, callinguser)
            user = self._target(call, viewer, field, value)
            limited = not viewer.sees_all_of(user.id)
            if limited:
                viewer.require_course_reader(asked.scope)
            model = self.time_model(conn)
            start = asked.start
            if model.enrolmentfilter:
                enrolled = self.queries.latest_enrolment_start(conn, user.id, asked.end)
                start = max(start, enrolled or start)
            zone = self._zone(call, asked)
            usage = sql.usage(conn, self.queries.t, user.id, start, asked.end,
                              model.time_settings, zone)
            if limited:
                usage = usage.within(viewer.courses_seen(conn, self.queries, usage.courses))
            stats = Stats(_person(user), start, asked.end, asked.scope, usage.total,
                          usage.sessions, model=model, zone=zone and zone.key)
            if asked.scope == "course":
                return self._with_courses(conn, stats, usage)
            if asked.scope == "module":
                return self._with_modules(conn, stats, usage)
            return stats

    def get_scores(self, targetuser: str | None, targetuserfield: str | None = None,
                   whereroot: str | None = None, scorescope: str | None = None,
                   courseidfield: str | None = None, courseidentifier: str | None = None, *,
                   now: int, caller: Caller, callinguser: CallingUser | None = None) -> Scores:
        """Grades of one user in one course: the course total, and every item on demand."""
        def check():
            field, cfield = params.user_field(targetuserfield), params.course_field(courseidfield)
            return (params.score_scope(scorescope), field,
                    params.identifier("targetuser", targetuser, field), cfield,
                    params.identifier("courseidentifier", courseidentifier, cfield))

        with self._call(caller, now, check) as (call, (scope, field, value, cfield, cvalue)):
            conn = call.conn
            self._answer_for_this_site(call, whereroot)
            viewer = self._viewer(call, callinguser)
            user = self._target(call, viewer, field, value)
            try:
                course = self._course(conn, cfield, cvalue)
            except UnknownCourse as error:
                raise viewer.refuse_unknown(error) from None
            viewer.require_course(conn, self.queries, user.id, course.id)
            grades = self.queries.grades(conn, course.id, user.id)
        return _scores(user, course, grades, with_items=scope == "notes/items")

    def time_model(self, conn: Connection) -> EffectiveModel:
        """The time model settings in force: the deployment's, then the site's block settings."""
        raw = self.queries.plugin_config(conn, time_model.BLOCK)
        try:
            block = time_model.parse(raw, BlockSettings)
        except ConfigError as error:
            log.warning("ignoring the site's %s settings: %s", time_model.BLOCK, error)
            block = BlockSettings()
        return time_model.effective(self.overrides, block)

    @contextmanager
    def _call(self, caller: Caller, now: int, check: Callable[[], T]) -> Iterator[tuple[_Call, T]]:
        """The call's transaction and its checked parameters.

        The caller is authenticated first: a token is checked before the
        parameters, which other callers have checked before any connection.
        """
        checked = None if caller.token is not None else check()
        with read_only(self.engine) as conn:
            config = SiteConfig.read(conn, self.queries)
            userid = None
            if caller.token is not None:
                userid = tokens.check_token(conn, self.queries, config, caller.token,
                                            caller.address, now)
                checked = check()
            yield _Call(conn, config, caller, userid), checked

    @staticmethod
    def _zone(call: _Call, asked: params.Figures) -> ZoneInfo | None:
        """The zone of the days: the one asked for, else the site's (UTC if the site's is
        not a zone this machine knows)."""
        if not asked.daily:
            return None
        if asked.zone is not None:
            return asked.zone
        try:
            return params.zone(call.config.timezone, "UTC")
        except InvalidParameter:
            log.warning("the site's time zone %r is unknown; days are in UTC", call.config.timezone)
            return ZoneInfo("UTC")

    def _answer_for_this_site(self, call: _Call, whereroot: str | None) -> None:
        """Refuse a ``whereroot`` that names another site than this one."""
        if (whereroot or "").strip() and not same_wwwroot(
                whereroot, self.queries.wwwroot(call.conn, call.config.localhost)):
            raise UnknownHost(f"no Moodle site is configured for whereroot {whereroot.strip()!r}")

    def _viewer(self, call: _Call, callinguser: CallingUser | None) -> Viewer:
        if call.caller.unrestricted:
            return Viewer.everything(self.capabilities)
        userid = acting_user(call.conn, self.queries, call.config, call.caller, callinguser,
                             call.userid)
        return Viewer.of(call.conn, self.queries, call.config, self.capabilities, userid)

    def _target(self, call: _Call, viewer: Viewer, field: str, value: str | int) -> Row:
        try:
            return self._user(call.conn, field, value, call.config.localhost)
        except UnknownUser as error:
            raise viewer.refuse_unknown(error) from None

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

    def _with_courses(self, conn: Connection, stats: Stats, usage: Usage) -> Stats:
        """``stats`` with every course's figures; the site course apart."""
        rows = self.queries.courses(conn, usage.courses)
        courses, site_course = [], None
        for courseid, tally in usage.courses.items():
            row = rows.get(courseid)
            figures = CourseFigures(courseid, row.fullname if row else "",
                                    row.shortname if row else "",
                                    (row.idnumber if row else None) or "", tally)
            if row is not None and row.category == 0:
                site_course = figures
            else:
                courses.append(figures)
        courses.sort(key=lambda c: (c.shortname, c.id))
        return replace(stats, courses=courses, site_course=site_course)

    def _with_modules(self, conn: Connection, stats: Stats, usage: Usage) -> Stats:
        """``stats`` with every course module's figures, named by its activity."""
        courses = self.queries.courses(conn, {m.courseid for m in usage.modules.values()})
        cms = self.queries.course_modules(conn, usage.modules)
        by_type: dict[str, list[int]] = defaultdict(list)
        for cm in cms.values():
            by_type[cm.modname].append(cm.instance)
        names = {modname: self.queries.activity_names(conn, modname, instances)
                 for modname, instances in by_type.items()}
        modules = []
        for cmid, tally in usage.modules.items():
            cm, course = cms.get(cmid), courses.get(tally.courseid)
            modules.append(ModuleFigures(
                cmid, names[cm.modname].get(cm.instance, "") if cm else "",
                cm.modname if cm else tally.label, (cm.idnumber if cm else None) or "",
                tally.courseid, course.shortname if course else "", tally))
        modules.sort(key=lambda m: (m.courseshortname, m.name, m.id))
        return replace(stats, modules=modules)


def _person(user: Row) -> Person:
    return Person(user.id, user.username, user.firstname, user.lastname, user.idnumber or "")


def _grade(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(GRADE_PLACES)


def _scores(user: Row, course: Row, grades: list[Row], with_items: bool) -> Scores:
    """The course total, and with ``with_items`` every scored item."""
    total = Grade(None, None, None)
    for item in grades:
        if item.itemtype == "course":
            total = Grade(_grade(item.finalgrade), _grade(item.grademin), _grade(item.grademax))
    items = None
    if with_items:
        items = [
            GradeItem(item.id, item.itemname or item.categoryname or "",
                      item.itemmodule if item.itemtype == "mod" else item.itemtype,
                      item.idnumber or "",
                      Grade(_grade(item.finalgrade), _grade(item.grademin), _grade(item.grademax)))
            for item in grades
            if item.itemtype != "course" and item.gradetype in SCORED_GRADE_TYPES
        ]
    return Scores(_person(user), CourseName(course.id, course.fullname, course.shortname,
                                            course.idnumber or ""), total, items)
