"""The service's queries of a Moodle site's tables, built with SQLAlchemy Core.

Each method takes a connection (see ``database.read_only``) and returns plain
rows or values. (The probes of ``web.health`` and ``checks`` and the read-only
switch of ``database`` are the only other statements.) Statements are parameterised; lists of ids are sent in chunks,
so a request costs a bounded number of queries whatever the number of rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from itertools import islice

from sqlalchemy import Row, and_, func, or_, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from .. import contexts
from ..timemodel.engine import LogEvent
from ..timemodel.sql import log_rows
from ..wwwroots import same
from .matching import caseless, exactly
from .tables import MoodleTables

#: Ids sent in one ``IN (...)`` list.
CHUNK = 1000
#: Log rows fetched from the server per round trip while streaming.
STREAM_BATCH = 2000
#: The user fields a caller may identify a user by.
USER_FIELDS = ("username", "idnumber", "email", "id")
#: The course fields a caller may identify a course by.
COURSE_FIELDS = ("id", "shortname", "idnumber")


def compared(field: str, value: str | int) -> str | int:
    """What a user's ``field`` is compared with when a client asks for ``value``, trimmed
    already: a username (Moodle keeps them in lower case) and an email in lower case.

    ``id`` is compared as a number, and the others, and the lower-case email, byte for
    byte whatever the database's collation (``matching``).
    """
    return str(value).lower() if field in ("username", "email") else value


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    return _value_chunks(sorted(set(ids)))


def _value_chunks(values: Iterable) -> Iterator[list]:
    it = iter(values)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


class Queries:
    """The queries of one Moodle site, named with its table prefix."""

    def __init__(self, tables: MoodleTables) -> None:
        self.t = tables

    # Site settings

    def config(self, conn: Connection, names: Collection[str]) -> dict[str, str]:
        """Values of ``config`` rows (``$CFG``) by name."""
        c = self.t.config.c
        rows = conn.execute(select(c.name, c.value).where(c.name.in_(names)))
        return dict(rows.all())

    def plugin_config(self, conn: Connection, plugin: str) -> dict[str, str]:
        """All ``config_plugins`` values of one plugin, by name."""
        c = self.t.config_plugins.c
        rows = conn.execute(select(c.name, c.value).where(c.plugin == plugin))
        return dict(rows.all())

    def wwwroot(self, conn: Connection, mnethostid: int) -> str | None:
        """The wwwroot of an MNET host row (the site's own for ``mnet_localhost_id``)."""
        c = self.t.mnet_host.c
        return conn.scalar(select(c.wwwroot).where(c.id == mnethostid))

    def mnet_host_ids(self, conn: Connection, wwwroot: str) -> list[int]:
        """The ids of the live MNET host rows with this wwwroot (compared as
        ``wwwroots.same`` does; the table holds one row per peer)."""
        c = self.t.mnet_host.c
        rows = conn.execute(select(c.id, c.wwwroot).where(c.deleted == 0))
        return [row.id for row in rows if same(row.wwwroot, wwwroot)]

    # Users and courses

    def find_users(self, conn: Connection, field: str, value: str | int, mnethostid: int,
                   limit: int | None = 2) -> list[Row]:
        """Non-deleted users whose ``field`` matches ``value`` (as :func:`compared`), in id
        order: at most ``limit`` (two by default, to detect ambiguity).

        Usernames, idnumbers and emails are matched among the site's own users
        (``mnethostid``): the same username may exist for another MNET host.
        """
        u = self.t.user.c
        query = (select(u.id, u.username, u.firstname, u.lastname, u.idnumber, u.email)
                 .where(u.deleted == 0, self._user_matches(field, [value]))
                 .order_by(u.id).limit(limit))
        if field != "id":
            query = query.where(u.mnethostid == mnethostid)
        return list(conn.execute(query))

    def find_courses(self, conn: Connection, field: str, value: str | int) -> list[Row]:
        """Courses whose ``field`` matches ``value``, ``id`` as a number and the others byte
        for byte (at most two, to detect ambiguity)."""
        c = self.t.course.c
        matches = c.id == value if field == "id" else exactly(c[field], [value])
        query = select(c.id, c.category, c.fullname, c.shortname, c.idnumber)
        return list(conn.execute(query.where(matches).order_by(c.id).limit(2)))

    def _user_matches(self, field: str, values: Collection[str | int]) -> ColumnElement[bool]:
        """The users whose ``field`` matches one of ``values``, as :func:`compared` says."""
        u = self.t.user.c
        values = sorted({compared(field, value) for value in values})
        if field == "id":
            return u.id.in_(values)
        if field == "email":
            return caseless(u.email, values)
        return exactly(u[field], values)

    def courses(self, conn: Connection, ids: Iterable[int]) -> dict[int, Row]:
        """Courses by id; ``category`` 0 marks the site course, ``enablecompletion`` 1 one
        that tracks completion."""
        c = self.t.course.c
        query = select(c.id, c.category, c.fullname, c.shortname, c.idnumber, c.enablecompletion)
        return {row.id: row for chunk in _chunks(ids)
                for row in conn.execute(query.where(c.id.in_(chunk)))}

    def user_courses(self, conn: Connection, userids: Collection[int]) -> dict[int, set[int]]:
        """The courses each user is enrolled in (any method, any status, any period) or has
        a log row in, by user id (users with none are absent): one statement a thousand
        users."""
        ue, e, log = self.t.user_enrolments.c, self.t.enrol.c, self.t.log.c
        enrolled = select(ue.userid, e.courseid).join_from(
            self.t.user_enrolments, self.t.enrol, e.id == ue.enrolid)
        logged = select(log.userid, log.courseid).where(log.courseid > 0)
        courses: dict[int, set[int]] = defaultdict(set)
        for chunk in _chunks(userids):
            query = union(enrolled.where(ue.userid.in_(chunk)), logged.where(log.userid.in_(chunk)))
            for userid, courseid in conn.execute(query):
                courses[userid].add(courseid)
        return dict(courses)

    def latest_enrolment_starts(self, conn: Connection, userids: Collection[int],
                                before: int) -> dict[int, int]:
        """Each user's latest start of an active enrolment (``user_enrolments.status`` 0)
        strictly before ``before`` (users with none are absent).

        As block_use_stats: the enrolment method's own status (``enrol.status``) is
        not looked at.
        """
        ue = self.t.user_enrolments.c
        query = (
            select(ue.userid, func.max(ue.timestart))
            .where(ue.status == 0, ue.timestart < before)
            .group_by(ue.userid)
        )
        return {userid: start for chunk in _chunks(userids)
                for userid, start in conn.execute(query.where(ue.userid.in_(chunk)))
                if start is not None}

    # Populations of GetUsersStats, in id order, after a user id

    def users_matching(self, conn: Connection, field: str, values: Collection[str | int],
                       mnethostid: int) -> list[Row]:
        """Non-deleted users whose ``field`` matches one of ``values`` (as
        :meth:`find_users` matches one), each with the value it matched, as
        :func:`compared` gives it, as ``matched``."""
        u = self.t.user.c
        matched = func.lower(u.email) if field == "email" else u[field]
        query = select(u.id, u.username, u.firstname, u.lastname, u.idnumber,
                       matched.label("matched")).where(u.deleted == 0).order_by(u.id)
        if field != "id":
            query = query.where(u.mnethostid == mnethostid)
        values = sorted({compared(field, value) for value in values}, key=str)
        return [row for chunk in _value_chunks(values)
                for row in conn.execute(query.where(self._user_matches(field, chunk)))]

    def users(self, conn: Connection, ids: Iterable[int]) -> dict[int, Row]:
        """Non-deleted users by id."""
        u = self.t.user.c
        query = (select(u.id, u.username, u.firstname, u.lastname, u.idnumber, u.mnethostid)
                 .where(u.deleted == 0))
        return {row.id: row for chunk in _chunks(ids)
                for row in conn.execute(query.where(u.id.in_(chunk)))}

    def enrolled_users(self, conn: Connection, courseid: int, start: int, end: int,
                       guest: int, after: int, limit: int) -> list[int]:
        """Ids of the non-deleted users but ``guest`` with an enrolment in the course (any
        method and status) overlapping ``[start, end]``, after ``after``, at most ``limit``."""
        ue, e, u = self.t.user_enrolments.c, self.t.enrol.c, self.t.user.c
        query = (
            select(ue.userid).distinct()
            .select_from(self.t.user_enrolments.join(self.t.enrol, e.id == ue.enrolid)
                         .join(self.t.user, u.id == ue.userid))
            .where(e.courseid == courseid, ue.timestart <= end,
                   or_(ue.timeend == 0, ue.timeend >= start), u.deleted == 0, ue.userid > after,
                   ue.userid != guest)
            .order_by(ue.userid).limit(limit)
        )
        return list(conn.scalars(query))

    def log_users(self, conn: Connection, start: int, end: int, guest: int, after: int,
                  limit: int) -> list[int]:
        """Ids of the non-deleted users but ``guest`` (local or MNET) with a log row in
        ``[start, end]``, after ``after``, at most ``limit``: the candidates of a site-wide
        population."""
        log, u = self.t.log.c, self.t.user.c
        query = (
            select(log.userid).distinct()
            .select_from(self.t.log.join(self.t.user, u.id == log.userid))
            .where(log.timecreated.between(start, end), u.deleted == 0, log.userid > after,
                   log.userid != guest)
            .order_by(log.userid).limit(limit)
        )
        return list(conn.scalars(query))

    def completed_users(self, conn: Connection, courseid: int | None, start: int, end: int,
                        guest: int, after: int, limit: int) -> list[int]:
        """Ids of the non-deleted users but ``guest`` who completed a course that tracks
        completion (``courseid``, when given) in ``[start, end]``, after ``after``, at most
        ``limit``."""
        cc, c, u = self.t.course_completions.c, self.t.course.c, self.t.user.c
        query = (
            select(cc.userid).distinct()
            .select_from(self.t.course_completions.join(self.t.course, c.id == cc.course)
                         .join(self.t.user, u.id == cc.userid))
            .where(cc.timecompleted.between(max(start, 1), end), c.enablecompletion == 1,
                   u.deleted == 0, cc.userid > after, cc.userid != guest)
            .order_by(cc.userid).limit(limit)
        )
        if courseid is not None:
            query = query.where(cc.course == courseid)
        return list(conn.scalars(query))

    # The log

    def log_events(self, conn: Connection, userid: int, timefrom: int,
                   timeto: int) -> Iterator[LogEvent]:
        """Stream the user's log rows that take part in the time model, in order.

        The rows the model leaves out (CLI, failed actions, "logged in as",
        site-level rows other than login and logout) are filtered by
        ``timemodel.sql.log_rows``, as for the SQL engine; each row carries the
        module type of its course module.
        """
        rows = log_rows(self.t, [userid], timefrom, timeto).subquery("taking_part").c
        query = (
            select(rows.id, rows.timecreated, rows.action, rows.target, rows.contextlevel,
                   rows.contextinstanceid, rows.courseid, rows.component, rows.modname)
            .order_by(rows.timecreated, rows.id)
        )
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        for row in result:
            yield LogEvent(*row)

    # Activities

    def course_modules(self, conn: Connection, cmids: Iterable[int]) -> dict[int, Row]:
        """Course modules by id, with their module type as ``modname``."""
        cm, m = self.t.course_modules.c, self.t.modules.c
        query = select(cm.id, cm.course, cm.instance, cm.idnumber, m.name.label("modname")).join_from(
            self.t.course_modules, self.t.modules, m.id == cm.module
        )
        return {row.id: row for chunk in _chunks(cmids)
                for row in conn.execute(query.where(cm.id.in_(chunk)))}

    def activity_names(self, conn: Connection, modname: str,
                       instances: Iterable[int]) -> dict[int, str]:
        """Names of activities of one type (``quiz``...) by instance id."""
        a = self.t.activity(modname).c
        return {id_: name for chunk in _chunks(instances)
                for id_, name in conn.execute(select(a.id, a.name).where(a.id.in_(chunk)))}

    # Grades

    def grades(self, conn: Connection, courseid: int, userid: int) -> list[Row]:
        """The course's grade items in gradebook order, with the user's final grade.

        ``categoryname`` names category totals, whose ``itemname`` is empty.
        """
        gi, gg, gc = self.t.grade_items.c, self.t.grade_grades.c, self.t.grade_categories.c
        joined = (
            self.t.grade_items
            .outerjoin(self.t.grade_grades, and_(gg.itemid == gi.id, gg.userid == userid))
            .outerjoin(self.t.grade_categories,
                       and_(gi.itemtype == "category", gc.id == gi.iteminstance))
        )
        query = (
            select(gi.id, gi.itemname, gi.itemtype, gi.itemmodule, gi.idnumber, gi.gradetype,
                   gi.grademin, gi.grademax, gg.finalgrade, gc.fullname.label("categoryname"))
            .select_from(joined)
            .where(gi.courseid == courseid)
            .order_by(gi.sortorder, gi.id)
        )
        return list(conn.execute(query))

    def course_totals(self, conn: Connection, courseids: Collection[int],
                      userids: Collection[int]) -> list[Row]:
        """The course total items of the courses (``courseid``, ``grademin``, ``grademax``),
        each with every one of the users' final grade in it (``userid``, ``finalgrade``; both
        None on an item none of them has a grade in): one statement a thousand courses and
        users."""
        gi, gg = self.t.grade_items.c, self.t.grade_grades.c
        rows = []
        for courses in _chunks(courseids):
            items = select(gi.id, gi.courseid, gi.grademin, gi.grademax).where(
                gi.itemtype == "course", gi.courseid.in_(courses)).subquery("totals")
            for users in _chunks(userids):
                grades = select(gg.itemid, gg.userid, gg.finalgrade).where(
                    gg.userid.in_(users)).subquery("grades")
                query = (select(items.c.courseid, items.c.grademin, items.c.grademax,
                                grades.c.userid, grades.c.finalgrade)
                         .select_from(items.outerjoin(grades, grades.c.itemid == items.c.id))
                         .order_by(items.c.courseid, items.c.id))
                rows += conn.execute(query).all()
        return rows

    # Course completion

    def completions(self, conn: Connection, userids: Collection[int]) -> list[Row]:
        """The users' ``course_completions`` rows: ``userid``, ``course``, ``timeenrolled``,
        ``timestarted``, ``timecompleted``; one statement a thousand users."""
        cc = self.t.course_completions.c
        query = select(cc.userid, cc.course, cc.timeenrolled, cc.timestarted, cc.timecompleted)
        return [row for chunk in _chunks(userids)
                for row in conn.execute(query.where(cc.userid.in_(chunk)))]

    # Web service tokens and roles

    def tokens(self, conn: Connection, token: str, tokentype: int) -> list[Row]:
        """The tokens of that type the database finds equal to ``token``, lowest id first.

        Each row carries what checking it needs: its service, its owner, the
        session named by its ``sid`` and the owner's authorisations for the
        service (one row per authorisation). The database may compare loosely
        (MariaDB's collations ignore case and trailing spaces): callers compare
        ``token`` and ``session_sid`` exactly themselves.
        """
        t = self.t
        tok, svc, u = t.external_tokens.c, t.external_services.c, t.user.c
        sess, esu = t.sessions.c, t.external_services_users.c
        joined = (
            t.external_tokens
            .outerjoin(t.external_services, svc.id == tok.externalserviceid)
            .outerjoin(t.user, u.id == tok.userid)
            .outerjoin(t.sessions, sess.sid == tok.sid)
            .outerjoin(t.external_services_users,
                       and_(esu.externalserviceid == tok.externalserviceid,
                            esu.userid == tok.userid))
        )
        query = (
            select(tok.id, tok.token, tok.userid, tok.sid, tok.iprestriction, tok.validuntil,
                   svc.id.label("serviceid"), svc.enabled, svc.requiredcapability,
                   svc.restrictedusers, u.id.label("ownerid"), u.deleted, u.confirmed,
                   u.suspended, u.auth, sess.sid.label("session_sid"),
                   sess.userid.label("session_userid"),
                   sess.timemodified.label("session_timemodified"),
                   esu.id.label("authorisationid"),
                   esu.validuntil.label("authorisation_validuntil"),
                   esu.iprestriction.label("authorisation_iprestriction"))
            .select_from(joined)
            .where(tok.token == token, tok.tokentype == tokentype)
            .order_by(tok.id, esu.id)
        )
        return list(conn.execute(query))

    def course_contexts(self, conn: Connection, courseids: Iterable[int]) -> list[Row]:
        """The courses' contexts: ``courseid``, ``category`` (0: the site course), ``path``."""
        c, ctx = self.t.course.c, self.t.context.c
        query = select(c.id.label("courseid"), c.category, ctx.path).join_from(
            self.t.course, self.t.context,
            and_(ctx.contextlevel == contexts.COURSE, ctx.instanceid == c.id))
        return [row for chunk in _chunks(courseids)
                for row in conn.execute(query.where(c.id.in_(chunk)))]

    def role_assignments(self, conn: Connection, userid: int) -> list[Row]:
        """Every role the user is assigned, anywhere: ``roleid``, the context's ``path``
        and its ``contextlevel``."""
        ra, ctx = self.t.role_assignments.c, self.t.context.c
        query = select(ra.roleid, ctx.path, ctx.contextlevel).join_from(
            self.t.role_assignments, self.t.context, ctx.id == ra.contextid)
        return list(conn.execute(query.where(ra.userid == userid)))

    def role_definitions(self, conn: Connection, roleids: Iterable[int],
                         capabilities: Collection[str]) -> list[Row]:
        """``role_capabilities`` rows of those roles and capabilities in every context.

        Each row: ``roleid``, ``capability``, ``permission``, and the context's
        ``path`` and ``contextlevel``.
        """
        rc, ctx = self.t.role_capabilities.c, self.t.context.c
        query = (
            select(rc.roleid, rc.capability, rc.permission, ctx.path, ctx.contextlevel)
            .join_from(self.t.role_capabilities, self.t.context, ctx.id == rc.contextid)
            .where(rc.capability.in_(sorted(set(capabilities))))
        )
        return [row for chunk in _chunks(roleids)
                for row in conn.execute(query.where(rc.roleid.in_(chunk)))]
