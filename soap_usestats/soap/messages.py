"""The typed messages of the contract, as Spyne models (the WSDL's ``types``).

Element names follow the MNET functions (``USE_STATS``, ``USER``, ``ELAPSED``...);
the optional elements after them are this service's additions. XSD types are
ones SAP's proxy generator maps: ``xs:int``, ``xs:string``, ``xs:decimal``,
``xs:boolean``, ``xs:date`` and ``xs:dateTime`` in UTC written with ``Z``. An ABAP consumer
cannot tell an absent element from an initial one, so a grade that is absent
because nothing is graded comes with ``GRADED`` false, never as a silent 0.

Every type and element says what it means: a type's docstring, an element's
``doc``. The WSDL carries them as ``xs:documentation``, and the page for people
(``web.help``) shows them.
"""

from spyne import Array, Boolean, ComplexModel, Date, DateTime, Decimal, Integer32, Unicode
from spyne.model.fault import Fault

from ..namespaces import TNS

#: How an xs:dateTime is written: always UTC, with ``Z``.
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def Int(doc: str):
    """An optional xs:int element."""
    return Integer32(doc=doc)


def Text(doc: str):
    """An optional xs:string element."""
    return Unicode(doc=doc)


def RequiredInt(doc: str):
    """A required, not nillable xs:int element."""
    return Integer32(min_occurs=1, nillable=False, doc=doc)


def RequiredText(doc: str):
    """A required, not nillable xs:string element."""
    return Unicode(min_occurs=1, nillable=False, doc=doc)


def UtcDateTime(doc: str):
    """An optional xs:dateTime element, always UTC and written with ``Z``."""
    return DateTime(dt_format=UTC_FORMAT, doc=doc)


def _documented(cls):
    """Give a model's docstring to its type (and to the elements of that type) as documentation."""
    cls.Annotations = type("Annotations", (cls.Annotations,), {"doc": " ".join(cls.__doc__.split())})
    return cls


class _Model(ComplexModel):
    __namespace__ = TNS


@_documented
class CallingUser(_Model):
    """The Moodle identity the call is made for, in MNET form. Only a client trusted to
    assert it may name another user; from anyone else it must name the authenticated
    user, or be left out."""

    _type_info = [
        ("username", Text("The user's username.")),
        ("remoteuserhostroot", Text("The wwwroot of the user's home site, for an MNET "
                                    "user; empty for this site's own users.")),
        ("remotehostroot", Text("The wwwroot of the site the call comes from (MNET).")),
    ]


def _identity(whose: str) -> list:
    return [
        ("USERNAME", RequiredText(f"The {whose} username.")),
        ("FIRSTNAME", RequiredText(f"The {whose} first name.")),
        ("LASTNAME", RequiredText(f"The {whose} last name.")),
        ("IDNUMBER", RequiredText(f"The {whose} ID number (often the personnel number); "
                                  "empty when it has none.")),
    ]


def _activity(where: str) -> list:
    return [
        ("SECONDS", Int(f"Exact seconds {where}.")),
        ("EVENTS", Int(f"Log events counted {where}.")),
        ("FIRSTACCESS", UtcDateTime(f"The first counted event {where} (UTC).")),
        ("LASTACCESS", UtcDateTime(f"The last counted event {where} (UTC).")),
    ]


@_documented
class DayStats(_Model):
    """Time booked to one local date (daily): each counted event's seconds go to the date,
    in the asked time zone, of the event itself."""

    _type_info = [
        ("DATE", Date(doc="The local date.")),
        ("ELAPSED", Int("Whole minutes booked to the date (rounded down).")),
        ("SECONDS", Int("Exact seconds booked to the date.")),
        ("FINAL", Boolean(doc="Whether the date's figures are final: the whole local date "
                              "lies before FINALBEFORE, so that new activity can no longer "
                              "change them. A final date can be booked once and for all.")),
    ]


def _days(where: str) -> list:
    return [("DAYS", Array(DayStats, member_name="DAY",
                           doc=f"daily: each local date with time {where}, in date order."))]


_FINALBEFORE = ("FINALBEFORE", UtcDateTime(
    "The figures of every log row before this instant (UTC) are final: new activity can no "
    "longer change them. It is the time of the answer less the greater of THRESHOLD and "
    "LASTPINGCREDIT; whereroot *: the earliest of the sites'."))


@_documented
class StatsUser(_Model):
    """The user, the window used and the time on the whole site."""

    _type_info = _identity("user's") + [
        ("FROM", RequiredInt("The window's start actually used, a Unix time: timefrom, or "
                             "the latest enrolment start when the site's enrolmentfilter "
                             "is on.")),
        ("ELAPSED", RequiredInt("Whole minutes on the whole site in the window (rounded "
                                "down).")),
        ("ID", Int("The user's Moodle id.")),
        ("TO", Int("The window's end used, a Unix time.")),
        *_activity("on the whole site"),
        ("SESSIONCOUNT", Int("Working sessions in the window.")),
        *_days("on the whole site"),
        _FINALBEFORE,
    ]


_SITE = ("SITE", Text("whereroot *: the wwwroot of the site it is on."))


@_documented
class CourseCompletion(_Model):
    """The user's completion of the course, as Moodle's course completion records it."""

    _type_info = [
        ("STATUS", RequiredText("complete (TIMECOMPLETED is set), inprogress (TIMESTARTED is "
                                "set), or notstarted (also when Moodle has no record yet).")),
        ("TIMEENROLLED", UtcDateTime("When the user was enrolled, as completion saw it (UTC); "
                                     "absent when unknown.")),
        ("TIMESTARTED", UtcDateTime("When the user started the course (UTC); absent when not "
                                    "started.")),
        ("TIMECOMPLETED", UtcDateTime("When the user completed the course (UTC); absent when "
                                      "not complete.")),
    ]


def _grade(what: str) -> list:
    return [
        ("SCORE", Decimal(doc=f"The user's final grade of {what}; absent when not graded.")),
        ("GRADEMIN", Decimal(doc=f"The lowest grade of {what}.")),
        ("GRADEMAX", Decimal(doc=f"The highest grade of {what}.")),
    ]


@_documented
class CourseGrade(_Model):
    """The user's course total, exactly as GetScores gives it."""

    _type_info = [
        *_grade("the course total"),
        ("GRADED", Boolean(doc="Whether the user has a course total (SCORE is present).")),
    ]


@_documented
class CourseStats(_Model):
    """Time in one course; SECONDS splits into activities, course pages and other pages."""

    _type_info = [
        ("NAME", RequiredText("The course's full name.")),
        ("SHORTNAME", RequiredText("The course's short name.")),
        ("IDNUMBER", RequiredText("The course's ID number; empty when it has none.")),
        ("ELAPSED", RequiredInt("Whole minutes in the course (rounded down).")),
        ("ID", Int("The course's Moodle id.")),
        *_activity("in the course"),
        ("ACTIVITYSECONDS", Int("Seconds in the course's activities.")),
        ("COURSESECONDS", Int("Seconds on the course's own pages.")),
        ("OTHERSECONDS", Int("Seconds on the course's other pages (grades, reports, "
                             "participants).")),
        *_days("in the course"),
        _SITE,
        ("COMPLETION", CourseCompletion.customize(
            doc="statsscope course: the user's completion of the course, where the site and "
                "the course track completion.")),
        ("GRADE", CourseGrade.customize(
            doc="statsscope course: the user's course total, where the caller may see the "
                "user's grades in the course (as GetScores).")),
    ]


@_documented
class ModuleStats(_Model):
    """Time in one activity (course module)."""

    _type_info = [
        ("NAME", RequiredText("The activity's name.")),
        ("TYPE", RequiredText("The activity's module type: quiz, forum, page...")),
        ("IDNUMBER", RequiredText("The course module's ID number; empty when it has none.")),
        ("ELAPSED", RequiredInt("Whole minutes in the activity (rounded down).")),
        ("ID", Int("The course module's id.")),
        ("COURSEID", Int("The id of the activity's course.")),
        ("COURSESHORTNAME", Text("The short name of the activity's course.")),
        *_activity("in the activity"),
        _SITE,
    ]


@_documented
class SessionStats(_Model):
    """One working session: from its first event to its last event plus credit."""

    _type_info = [
        ("START", UtcDateTime("The session's first counted event (UTC).")),
        ("END", UtcDateTime("The session's last event plus the time credited to it (UTC).")),
        ("SECONDS", Int("Seconds counted in the session.")),
        ("ELAPSED", Int("Whole minutes counted in the session (rounded down).")),
    ]


_JSON = Text("The same answer as one JSON document, when json_response is true.")


@_documented
class ModelSettings(_Model):
    """The time model settings the figures were computed with, so that an auditor can
    recompute any of them by hand (docs/time-model.md)."""

    _type_info = [
        ("THRESHOLD", Int("Minutes: a longer gap between two events ends a session.")),
        ("LASTPINGCREDIT", Int("Minutes credited to a session's last event; the user's latest "
                               "event is credited at most up to the time of the request.")),
        ("IGNOREMODULES", Text("Labels whose events are dropped with their time, "
                               "comma-separated.")),
        ("CAPTUREMODULES", Text("Labels whose time carries to the next counted event, "
                                "comma-separated.")),
        ("ENROLMENTFILTER", Boolean(doc="Whether the window starts at the user's latest "
                                        "active enrolment.")),
        ("TIMEZONE", Text("daily: the time zone the days are local to.")),
    ]


@_documented
class SiteStats(_Model):
    """whereroot *: one site's own figures, which the user's figures sum."""

    _type_info = [
        ("WWWROOT", RequiredText("The site's wwwroot.")),
        ("ELAPSED", RequiredInt("Whole minutes on the site in the window (rounded down).")),
        *_activity("on the site"),
        ("SITECOURSE", CourseStats.customize(doc="statsscope course: time on the site's front "
                                                 "page.")),
        ("MODEL", ModelSettings),
        ("FINALBEFORE", UtcDateTime("The site's own FINALBEFORE (UTC).")),
    ]


@_documented
class UseStats(_Model):
    """The answer of GetStats."""

    _type_info = [
        ("USER", StatsUser.customize(min_occurs=1, nillable=False)),
        ("COURSES", Array(CourseStats, member_name="COURSE",
                          doc="statsscope course: each course where time was counted, or "
                              "completed in the window, by short name.")),
        ("MODULES", Array(ModuleStats, member_name="MODULE",
                          doc="statsscope module: each activity where time was counted, by "
                              "course short name, then name.")),
        ("SITECOURSE", CourseStats.customize(doc="statsscope course: time on the site's front "
                                                 "page (the site course), apart from COURSES.")),
        ("SESSIONS", Array(SessionStats, member_name="SESSION",
                           doc="sessions: the working sessions in the window, in time "
                               "order.")),
        ("JSON", _JSON),
        ("MODEL", ModelSettings),
        ("SITES", Array(SiteStats, member_name="SITE",
                        doc="whereroot *: each site asked, with its own figures; SITECOURSE "
                            "and MODEL are then each site's.")),
    ]


@_documented
class TargetUsers(_Model):
    """The users GetUsersStats is asked for (at most 1000), each matched by targetuserfield;
    a user named twice is answered once."""

    _type_info = [
        ("targetuser", Unicode(max_occurs="unbounded",
                               doc="A user: a username, unless targetuserfield names another "
                                   "field.")),
    ]


@_documented
class UsersStats(_Model):
    """The answer of GetUsersStats: one page of users, in order of their Moodle id."""

    _type_info = [
        ("USE_STATS", UseStats.customize(max_occurs="unbounded",
                                         doc="Each user of the page, in order of Moodle id: what "
                                             "GetStats answers for that user with the same "
                                             "parameters.")),
        ("NEXTCURSOR", Text("The cursor of the next page: pass it as cursor, with the same "
                            "parameters; absent on the last page.")),
    ]


@_documented
class ScoresUser(_Model):
    """The user whose grades are reported."""

    _type_info = _identity("user's") + [("ID", Int("The user's Moodle id."))]


@_documented
class ScoresCourse(_Model):
    """The course whose grades are reported."""

    _type_info = [
        ("NAME", RequiredText("The course's full name.")),
        ("SHORTNAME", RequiredText("The course's short name.")),
        ("IDNUMBER", RequiredText("The course's ID number; empty when it has none.")),
        ("ID", Int("The course's Moodle id.")),
    ]


@_documented
class GradeItem(_Model):
    """One grade item of the course and the user's final grade in it."""

    _type_info = [
        ("NAME", RequiredText("The item's name (its category's, for a category total).")),
        ("TYPE", RequiredText("The activity's module type (quiz, assign...), or the item's "
                              "type: manual, category.")),
        ("IDNUMBER", RequiredText("The item's ID number; empty when it has none.")),
        *_grade("the item"),
        ("ID", Int("The grade item's id.")),
        ("GRADED", Boolean(doc="Whether the user has a grade in the item (SCORE is "
                               "present).")),
    ]


@_documented
class UserScores(_Model):
    """The answer of GetScores: the course total, and every item for notes/items."""

    _type_info = [
        ("USER", ScoresUser.customize(min_occurs=1, nillable=False)),
        ("COURSE", ScoresCourse.customize(min_occurs=1, nillable=False)),
        *_grade("the course total"),
        ("ITEMS", Array(GradeItem, member_name="ITEM",
                        doc="scorescope notes/items: every scored grade item of the course, "
                            "in gradebook order.")),
        ("JSON", _JSON),
        ("GRADED", Boolean(doc="Whether the user has a course total (SCORE is present).")),
    ]


class UseStatsFault(Fault):
    """Every fault of the service; ``status`` is the MNET status number."""

    __namespace__ = TNS
    _type_info = [("status", RequiredInt("The MNET status number of the fault."))]

    def __init__(self, faultcode: str, faultstring: str, status: int,
                 not_understood: tuple[str, ...] = ()) -> None:
        super().__init__(faultcode=faultcode, faultstring=faultstring)
        self.status = status
        self.not_understood = not_understood  # a MustUnderstand fault's header entries

