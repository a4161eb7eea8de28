"""One Moodle site the service answers for: its database, its tables, its settings.

Each operation runs in one read-only transaction: read the site's settings,
learn whom the answer is for (checking a token first), check the parameters and
what that user may see of the target, then compute the figures and look up the
names of what they are about. The answers are plain data (``results``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import astuple, dataclass, replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.engine import Connection, Engine

from ..access.rules import Viewer
from ..auth import tokens
from ..auth.caller import Caller, CallingUser
from ..config import Capabilities, DirectSite, Settings
from ..exceptions import ConfigError, InvalidParameter, UnknownCourse, UnknownHost, UnknownUser
from ..ledger import answer
from ..ledger.answer import Ledger
from ..ledger.source import site_key
from ..moodle.cache import CachingQueries, TtlCache
from ..moodle.database import connect, read_only
from ..moodle.queries import compared
from ..moodle.siteconfig import SiteConfig
from ..moodle.tables import MoodleTables
from ..moodle.versions import require_window_functions
from ..timemodel import settings as time_model
from ..timemodel.engine import CourseTally, Tally, Usage
from ..timemodel.settings import BlockSettings, EffectiveModel, TimeModelOverrides
from ..wwwroots import normalise, same
from . import cursor as paging
from . import finality, params
from .identity import acting_user
from .requests import ScoresRequest, StatsRequest, UsersStatsRequest
from .results import (
    Completion,
    CourseFigures,
    CourseName,
    Grade,
    GradeItem,
    ModuleFigures,
    Person,
    Scores,
    Stats,
    UsersStats,
)

log = logging.getLogger(__name__)

GRADE_PLACES = Decimal("0.00001")
#: A course total of a course without one: nothing graded, no bounds (as GetScores says).
_UNGRADED = Grade(None, None, None)
#: Grade types with a score: 1 value, 2 scale (0 none and 3 text have none).
SCORED_GRADE_TYPES = (1, 2)

T = TypeVar("T")
#: The next user ids of a population: ``(after, limit)`` to at most ``limit`` ids above ``after``.
Candidates = Callable[[int, int], list[int]]
#: Each user's window start and usage, by user id.
UserFigures = dict[int, tuple[int, Usage]]


@dataclass(frozen=True)
class SiteIdentity:
    """A site's wwwroot and its default time zone for days."""

    wwwroot: str
    timezone: str


@dataclass(frozen=True)
class _Call:
    """One operation's transaction, the site's settings, the caller behind it, and the
    time of the request."""

    conn: Connection
    config: SiteConfig
    caller: Caller
    userid: int | None   # the token's owner, once accepted
    now: int


class MoodleSite:
    """A Moodle site read through its database, with the deployment's time model overrides."""

    def __init__(self, engine: Engine, tables: MoodleTables,
                 overrides: TimeModelOverrides | None = None,
                 capabilities: Capabilities | None = None, cache_seconds: int = 0,
                 secret_key: str | None = None, wwwroot: str | None = None,
                 ledger: Ledger | None = None) -> None:
        self.engine = engine
        self.ledger = ledger  # the compiled rows' figures, read when it has them
        self.wwwroot = wwwroot  # the name configuration gives it, besides its own wwwroot
        self.secret_key = secret_key  # signs GetUsersStats cursors, when configured
        self.queries = CachingQueries(tables, TtlCache(cache_seconds))
        self.overrides = overrides or TimeModelOverrides()
        self.capabilities = capabilities or Capabilities()

    @classmethod
    def from_settings(cls, settings: Settings) -> MoodleSite:
        """The site of the configuration; refuses a database without window functions."""
        engine = connect(settings.database_url, settings.database_timeout)
        require_window_functions(engine)
        return cls(engine, MoodleTables(settings.table_prefix), settings.use_stats,
                   settings.capabilities, settings.cache_seconds, settings.secret_key,
                   ledger=_ledger(settings))

    @classmethod
    def other(cls, site: DirectSite, settings: Settings) -> MoodleSite:
        """Another site of ``[sites]``, read directly: its own block settings apply, with
        the deployment's capabilities and cache."""
        engine = connect(site.database_url, settings.database_timeout)
        require_window_functions(engine)
        return cls(engine, MoodleTables(site.table_prefix), None, settings.capabilities,
                   settings.cache_seconds, settings.secret_key, site.wwwroot, _ledger(settings))

    def person(self, caller: Caller, callinguser: CallingUser | None, now: int) -> CallingUser | None:
        """Whom a call is for, as another site knows them (MNET): a username and its home
        wwwroot; ``None`` for the operator, who sees every site whole.

        A trusted client's ``callinguser`` is taken as it is; another caller is
        resolved here, as :meth:`get_stats` would (a token checked first).
        """
        if caller.unrestricted:
            return None
        with self._call(caller, now, lambda: None) as (call, _):
            own = self.queries.wwwroot(call.conn, call.config.localhost) or ""
            asserted = ((callinguser.username if callinguser else None) or "").strip()
            if caller.trusted and asserted:
                return CallingUser(asserted, (callinguser.remoteuserhostroot or "").strip() or own,
                                   own)
            userid = acting_user(call.conn, self.queries, call.config, caller, callinguser,
                                 call.userid)
            user = self.queries.users(call.conn, [userid])[userid]
            return CallingUser(user.username, self.queries.wwwroot(call.conn, user.mnethostid),
                               own)

    def token_owner(self, token: str, address: str, now: int) -> int:
        """The Moodle user a web service token acts for, when Moodle would accept it from
        ``address`` at ``now``; raises AuthenticationFailed."""
        with read_only(self.engine) as conn:
            config = SiteConfig.read(conn, self.queries)
            return tokens.check_token(conn, self.queries, config, token, address, now)

    def about(self) -> SiteIdentity:
        """The site's wwwroot (as configuration names it, else its own) and its time zone."""
        with read_only(self.engine) as conn:
            config = SiteConfig.read(conn, self.queries)
            wwwroot = self.wwwroot or self.queries.wwwroot(conn, config.localhost) or ""
            return SiteIdentity(wwwroot, _site_zone(config).key)

    def get_stats(self, request: StatsRequest, *, now: int, caller: Caller) -> Stats:
        """Time spent by one user in the window, at the scope's level of detail (and per
        day when ``daily``), as far as ``caller`` (or the ``callinguser`` it asserts) may see it."""
        def check():
            return (*params.target_user(request), params.figures(request, now))

        with self._call(caller, now, check) as (call, (field, value, asked)):
            self._answer_for_this_site(call, request.whereroot)
            viewer = self._viewer(call, request.callinguser)
            user = self._target(call, viewer, field, value)
            if not viewer.sees_all_of(user.id):
                viewer.require_course_reader(asked.scope)
            model, zone = self.time_model(call.conn), self._zone(call, asked)
            figures = self._figures(call, viewer, [user.id], asked, model, zone)
            return self._stats(call, viewer, {user.id: user}, figures, asked, model, zone)[0]

    def get_users_stats(self, request: UsersStatsRequest, *, now: int,
                        caller: Caller) -> UsersStats:
        """A page of users' figures, each as :meth:`get_stats` gives it, in Moodle id order:
        the users listed, a course's enrolled users, or everyone with time in the window."""
        def check():
            field = params.user_field(request.targetuserfield)
            targets = params.target_users(request.targetusers, field)
            course = params.course(request.courseidfield, request.courseidentifier)
            if targets is not None and course is not None:
                raise InvalidParameter("ask for targetusers or for a course's users, not both")
            if targets is not None and request.completed:
                raise InvalidParameter("completed makes the users those who completed a course "
                                       "in the window: ask for it without targetusers")
            return (field, targets, course, params.page_size(request.pagesize),
                    params.figures(request, now))

        with self._call(caller, now, check) as (call, (field, targets, course, size, asked)):
            self._answer_for_this_site(call, request.whereroot)
            callinguser = request.callinguser
            viewer = self._viewer(call, callinguser)
            query = paging.digest({
                "callinguser": callinguser and astuple(callinguser),
                "whereroot": normalise(request.whereroot), "targetuserfield": field,
                "targetusers": targets and sorted(map(str, targets)), "course": course,
                "statsscope": asked.scope, "timefrom": asked.start, "timeto": request.timeto,
                "daily": asked.daily, "timezone": (request.timezone or "").strip(),
                "sessions": asked.sessions, "completed": request.completed})
            key = paging.key_of(self.secret_key, site_key(call.conn, self.queries, call.config))
            cursor = request.cursor
            position = (paging.decode(key, query, cursor) if (cursor or "").strip()
                        else paging.Position(0, asked.end))
            asked = replace(asked, end=position.end)
            candidates = self._population(call, viewer, field, targets, course, asked,
                                          request.completed)
            model, zone = self.time_model(call.conn), self._zone(call, asked)
            users, figures, more = self._page(
                call, viewer, candidates, asked, model, zone, position.after, size,
                keep_idle=targets is not None or course is not None or request.completed)
            stats = self._stats(call, viewer, users, figures, asked, model, zone)
        last = stats[-1].user.id if stats else position.after
        return UsersStats(stats, paging.encode(key, query, paging.Position(last, asked.end))
                          if more else None)

    def get_scores(self, request: ScoresRequest, *, now: int, caller: Caller) -> Scores:
        """Grades of one user in one course: the course total, and every item on demand."""
        def check():
            scope = params.score_scope(request.scorescope)
            field, value = params.target_user(request)
            cfield = params.course_field(request.courseidfield)
            return (scope, field, value, cfield,
                    params.identifier("courseidentifier", request.courseidentifier, cfield))

        with self._call(caller, now, check) as (call, (scope, field, value, cfield, cvalue)):
            conn = call.conn
            self._answer_for_this_site(call, request.whereroot)
            viewer = self._viewer(call, request.callinguser)
            user = self._target(call, viewer, field, value)
            try:
                course = self._course(conn, cfield, cvalue)
            except UnknownCourse as error:
                raise viewer.unknown_course(error) from None
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

        The caller is authenticated first: a token the edge has not accepted yet
        (a caller built in-process) is checked in the transaction, before the
        parameters, which other callers have checked before any connection.
        """
        unchecked = caller.token is not None and caller.userid is None
        checked = None if unchecked else check()
        with read_only(self.engine) as conn:
            config = SiteConfig.read(conn, self.queries)
            userid = caller.userid
            if unchecked:
                userid = tokens.check_token(conn, self.queries, config, caller.token,
                                            caller.address, now)
                checked = check()
            yield _Call(conn, config, caller, userid, now), checked

    @staticmethod
    def _zone(call: _Call, asked: params.Figures) -> ZoneInfo | None:
        """The zone of the days: the one asked for, else the site's."""
        if not asked.daily:
            return None
        return asked.zone if asked.zone is not None else _site_zone(call.config)

    def _answer_for_this_site(self, call: _Call, whereroot: str | None) -> None:
        """Refuse a ``whereroot`` that names another site than this one."""
        if (whereroot or "").strip() and not same(whereroot, self.wwwroot) and not same(
                whereroot, self.queries.wwwroot(call.conn, call.config.localhost)):
            raise UnknownHost(f"no Moodle site is configured for whereroot {whereroot.strip()!r}")

    def _viewer(self, call: _Call, callinguser: CallingUser | None) -> Viewer:
        if call.caller.unrestricted:
            return Viewer.everything(self.capabilities)
        userid = acting_user(call.conn, self.queries, call.config, call.caller, callinguser,
                             call.userid)
        return Viewer.of(call.conn, self.queries, call.config, self.capabilities, userid)

    def _target(self, call: _Call, viewer: Viewer, field: str, value: str | int) -> Row:
        """The user asked about, among those the viewer may see: to a viewer who may not
        see everyone, a user they may not see is as one who does not exist."""
        wide = viewer.sees_everyone
        found = self.queries.find_users(call.conn, field, value, call.config.localhost,
                                        limit=2 if wide else None)
        users = viewer.visible(call.conn, self.queries, found)
        if not users:
            raise UnknownUser(f"no user has {field} {value!r}") if wide else viewer.hidden_user()
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

    def _population(self, call: _Call, viewer: Viewer, field: str,
                    targets: list[str | int] | None, course: tuple[str, str | int] | None,
                    asked: params.Figures, completed: bool) -> Candidates:
        """Who a GetUsersStats is about, once the viewer may see them: ``(after, limit)`` to
        the next user ids in id order. The site's guest user is never one of them."""
        conn, guest = call.conn, call.config.guest
        courseid = None
        if course is not None:
            try:
                courseid = self._course(conn, *course).id
            except UnknownCourse as error:
                raise viewer.unknown_course(error) from None
            viewer.require_course_population(conn, self.queries, courseid, asked.scope)
        else:
            viewer.require_everyone()
        if completed:
            if not call.config.tracks_completion:
                return lambda after, limit: []
            return partial(self.queries.completed_users, conn, courseid, asked.start, asked.end,
                           guest)
        if courseid is not None:
            return partial(self.queries.enrolled_users, conn, courseid, asked.start, asked.end,
                           guest)
        if targets is None:
            return partial(self.queries.log_users, conn, asked.start, asked.end, guest)
        ids = self._listed(call, field, targets)
        return lambda after, limit: [i for i in ids if i > after][:limit]

    def _listed(self, call: _Call, field: str, targets: list[str | int]) -> list[int]:
        """The ids of the users listed, in order; every unknown or ambiguous one refused at
        once, and the site's guest user, who is in no population."""
        rows = self.queries.users_matching(call.conn, field, targets, call.config.localhost)
        found: dict[str | int, set[int]] = defaultdict(set)
        for row in rows:
            found[row.matched].add(row.id)
        matches = {t: found.get(compared(field, t), set()) for t in targets}
        guest = [t for t in targets if call.config.guest in matches[t]]
        unknown = [t for t in targets if not matches[t]]
        ambiguous = [t for t in targets if len(matches[t]) > 1]
        problems = [f"no user has {field} {_listing(unknown)}"] if unknown else []
        if guest:
            problems.append(f"{field} {_listing(guest)} names the site's guest user, who is in "
                            "no population")
        if ambiguous:
            problems.append(f"more than one user has {field} {_listing(ambiguous)}; "
                            "ask by another field")
        if problems:
            raise UnknownUser("; ".join(problems))
        return sorted({i for ids in found.values() for i in ids})

    def _page(self, call: _Call, viewer: Viewer, candidates: Candidates, asked: params.Figures,
              model: EffectiveModel, zone: ZoneInfo | None, after: int, size: int,
              keep_idle: bool) -> tuple[dict[int, Row], UserFigures, bool]:
        """The users of one page, their figures, and whether another page follows.

        One more user than the page holds is looked at, to know; without
        ``keep_idle`` (everyone with time) candidates with no counted event are
        passed over, and more are fetched while the page is short.
        """
        users: dict[int, Row] = {}
        figures: UserFigures = {}
        while True:
            wanted = size + 1 - len(users)
            ids = candidates(after, wanted)
            rows = self.queries.users(call.conn, ids)
            found = self._figures(call, viewer, list(rows), asked, model, zone)
            for userid in ids:
                if userid in rows and (keep_idle or found[userid][1].total.events):
                    users[userid], figures[userid] = rows[userid], found[userid]
            if len(ids) < wanted or len(users) > size:
                break
            after = ids[-1]
        more = len(users) > size
        page = sorted(users)[:size]
        return {i: users[i] for i in page}, {i: figures[i] for i in page}, more

    def _figures(self, call: _Call, viewer: Viewer, userids: list[int], asked: params.Figures,
                 model: EffectiveModel, zone: ZoneInfo | None) -> UserFigures:
        """Each user's window start and usage at the time of the request, as far as the
        viewer may see it: the engine's few statements for them all, and the ledger's for
        the rows it has compiled."""
        conn = call.conn
        start: int | dict[int, int] = asked.start
        if model.enrolmentfilter:
            enrolled = self.queries.latest_enrolment_starts(conn, userids, asked.end)
            start = {i: max(asked.start, enrolled.get(i) or asked.start) for i in userids}
        found = answer.usage_by_user(conn, self.queries, self.ledger, userids, start, asked.end,
                                     model.time_settings, zone, now=call.now,
                                     config=call.config)
        usages = {i: found.get(i) or Usage(Tally(), {}, {}, []) for i in userids}
        limited = [i for i in userids if not viewer.sees_all_of(i)]
        if limited:
            seen = viewer.courses_seen(conn, self.queries,
                                       {c for i in limited for c in usages[i].courses})
            usages |= {i: usages[i].within(seen) for i in limited}
        return {i: (start[i] if isinstance(start, dict) else start, usages[i]) for i in userids}

    def _stats(self, call: _Call, viewer: Viewer, users: Mapping[int, Row],
               figures: UserFigures, asked: params.Figures, model: EffectiveModel,
               zone: ZoneInfo | None) -> list[Stats]:
        """The users' Stats in id order, their courses (with their learning records) or
        modules named with a bounded number of statements, whatever the number of users;
        final at the time of the request as far as they are."""
        conn = call.conn
        before = finality.final_before(model.time_settings, call.now)
        stats = [(Stats(_person(users[i]), start, asked.end, asked.scope, usage.total,
                        usage.sessions if asked.sessions else None, len(usage.sessions),
                        model=model, zone=zone and zone.key, final_before=before,
                        final_days=finality.final_days(_days(usage), zone, before)), usage)
                 for i, (start, usage) in sorted(figures.items())]
        usages = [usage for _, usage in stats]
        if asked.scope == "course":
            records = self._records(call, viewer, list(figures), asked)
            rows = self.queries.courses(conn, {c for u in usages for c in u.courses}
                                        | records.completed_courses)
            totals = self._course_totals(conn, rows, list(figures))
            return [_with_courses(one, usage, rows, records, totals) for one, usage in stats]
        if asked.scope == "module":
            names = self._module_names(conn, usages)
            return [_with_modules(one, usage, names) for one, usage in stats]
        return [one for one, _ in stats]

    def _records(self, call: _Call, viewer: Viewer, userids: list[int],
                 asked: params.Figures) -> _Records:
        """The users' course completions, where the site tracks completion, and the courses
        each completed in the window, as far as the viewer may see them."""
        if not call.config.tracks_completion:
            return _Records(False, {}, {})
        rows = self.queries.completions(call.conn, userids)
        completed: dict[int, set[int]] = defaultdict(set)
        for row in rows:
            if row.timecompleted and asked.start <= row.timecompleted <= asked.end:
                completed[row.userid].add(row.course)
        limited = {i for i in completed if not viewer.sees_all_of(i)}
        if limited:
            seen = viewer.courses_seen(call.conn, self.queries,
                                       {c for i in limited for c in completed[i]})
            completed |= {i: completed[i] & seen for i in limited}
        return _Records(True, {(row.userid, row.course): row for row in rows}, completed)

    def _course_totals(self, conn: Connection, courses: Mapping[int, Row],
                       userids: list[int]) -> _Totals:
        """The users' course totals in the courses (the site course aside)."""
        ids = [c for c, row in courses.items() if row.category != 0]
        totals = _Totals({}, {})
        for row in self.queries.course_totals(conn, ids, userids) if ids else ():
            totals.bounds[row.courseid] = Grade(None, _grade(row.grademin),
                                                _grade(row.grademax))
            if row.userid is not None:
                totals.scores[row.userid, row.courseid] = _grade(row.finalgrade)
        return totals

    def _module_names(self, conn: Connection, usages: list[Usage]) -> _ModuleNames:
        """The courses, course modules and activity names the usages' modules need."""
        modules = [tally for usage in usages for tally in usage.modules.values()]
        courses = self.queries.courses(conn, {m.courseid for m in modules})
        cms = self.queries.course_modules(conn, {c for u in usages for c in u.modules})
        by_type: dict[str, list[int]] = defaultdict(list)
        for cm in cms.values():
            by_type[cm.modname].append(cm.instance)
        names = {modname: self.queries.activity_names(conn, modname, instances)
                 for modname, instances in by_type.items()}
        return _ModuleNames(courses, cms, names)


@dataclass(frozen=True)
class _ModuleNames:
    """What names a page's modules: courses and course modules by id, activity names by type."""

    courses: dict[int, Row]
    cms: dict[int, Row]
    names: dict[str, dict[int, str]]


@dataclass(frozen=True)
class _Records:
    """What a page's learning records are made of: whether the site tracks completion, the
    users' ``course_completions`` rows by ``(userid, courseid)``, and the courses each user
    completed in the window, by user id."""

    tracked: bool
    completions: dict[tuple[int, int], Row]
    completed: dict[int, set[int]]

    @property
    def completed_courses(self) -> set[int]:
        return {c for courses in self.completed.values() for c in courses}

    def completion(self, userid: int, course: Row) -> Completion | None:
        """The user's completion of the course, where the site and the course track it."""
        if not self.tracked or course.enablecompletion != 1:
            return None
        row = self.completions.get((userid, course.id))
        if row is None:
            return Completion("notstarted")
        status = ("complete" if row.timecompleted else
                  "inprogress" if row.timestarted else "notstarted")
        return Completion(status, row.timeenrolled or None, row.timestarted or None,
                          row.timecompleted or None)


@dataclass(frozen=True)
class _Totals:
    """A page's course totals: each course's bounds, and each user's final grade in it."""

    bounds: dict[int, Grade]
    scores: dict[tuple[int, int], Decimal | None]

    def of(self, userid: int, courseid: int) -> Grade:
        """The user's course total, as GetScores gives it (ungraded in a course without one)."""
        bounds = self.bounds.get(courseid, _UNGRADED)
        return replace(bounds, score=self.scores.get((userid, courseid)))


def _days(usage: Usage) -> set[date]:
    """Every date with time booked to it: the user's, and each course's."""
    return {day for tally in (usage.total, *usage.courses.values()) for day in tally.days}


def _with_courses(stats: Stats, usage: Usage, rows: Mapping[int, Row], records: _Records,
                  totals: _Totals) -> Stats:
    """``stats`` with every course's figures and learning record; the site course apart.
    A course completed in the window is there even with no time in it, where the course
    tracks completion. A course's days are final as the user's are: ``stats.final_days``
    holds them all."""
    courses, site_course = [], None
    userid = stats.user.id
    tallies = dict(usage.courses)
    for courseid in records.completed.get(userid, ()):
        row = rows.get(courseid)
        if row is not None and row.category != 0 and records.completion(userid, row):
            tallies.setdefault(courseid, CourseTally())
    for courseid, tally in tallies.items():
        row = rows.get(courseid)
        if row is not None and row.category == 0:
            site_course = CourseFigures(courseid, row.fullname, row.shortname,
                                        row.idnumber or "", tally, final_days=stats.final_days)
            continue
        courses.append(CourseFigures(
            courseid, row.fullname if row else "", row.shortname if row else "",
            (row.idnumber if row else None) or "", tally, final_days=stats.final_days,
            completion=records.completion(userid, row) if row else None,
            grade=totals.of(userid, courseid) if row else None))
    courses.sort(key=lambda c: (c.shortname, c.id))
    return replace(stats, courses=courses, site_course=site_course)


def _with_modules(stats: Stats, usage: Usage, named: _ModuleNames) -> Stats:
    """``stats`` with every course module's figures, named by its activity."""
    modules = []
    for cmid, tally in usage.modules.items():
        cm, course = named.cms.get(cmid), named.courses.get(tally.courseid)
        modules.append(ModuleFigures(
            cmid, named.names[cm.modname].get(cm.instance, "") if cm else "",
            cm.modname if cm else tally.label, (cm.idnumber if cm else None) or "",
            tally.courseid, course.shortname if course else "", tally))
    modules.sort(key=lambda m: (m.courseshortname, m.name, m.id))
    return replace(stats, modules=modules)


def _ledger(settings: Settings) -> Ledger | None:
    """The ledger of the configuration, if it is not off."""
    return (None if settings.ledger_url is None
            else Ledger.at(settings.ledger_url, settings.database_timeout))


def _site_zone(config: SiteConfig) -> ZoneInfo:
    """The site's time zone (UTC if it is not a zone this machine knows)."""
    try:
        return params.zone(config.timezone, "UTC")
    except InvalidParameter:
        log.warning("the site's time zone %r is unknown; days are in UTC", config.timezone)
        return ZoneInfo("UTC")


def _listing(values: list[str | int]) -> str:
    return ", ".join(repr(value) for value in values)


def _person(user: Row) -> Person:
    return Person(user.id, user.username, user.firstname, user.lastname, user.idnumber or "")


def _grade(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(GRADE_PLACES)


def _scores(user: Row, course: Row, grades: list[Row], with_items: bool) -> Scores:
    """The course total, and with ``with_items`` every scored item."""
    total = _UNGRADED
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
