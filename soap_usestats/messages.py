"""The typed messages of the contract, as Spyne models (the WSDL's ``types``).

Element names follow the MNET functions (``USE_STATS``, ``USER``, ``ELAPSED``...);
the optional elements after them are this service's additions. XSD types are
ones SAP's proxy generator maps: ``xs:int``, ``xs:string``, ``xs:decimal``,
``xs:boolean`` and ``xs:dateTime`` in UTC written with ``Z``. An ABAP consumer
cannot tell an absent element from an initial one, so a grade that is absent
because nothing is graded comes with ``GRADED`` false, never as a silent 0.
"""

from spyne import Array, Boolean, ComplexModel, DateTime, Decimal, Integer32, Unicode
from spyne.model.fault import Fault

TNS = "urn:soap-usestats:1"

Int = Integer32
Text = Unicode
#: Required and not nillable.
RequiredInt = Integer32(min_occurs=1, nillable=False)
RequiredText = Unicode(min_occurs=1, nillable=False)
#: xs:dateTime, always UTC and written with ``Z``.
UtcDateTime = DateTime(dt_format="%Y-%m-%dT%H:%M:%SZ")


class _Model(ComplexModel):
    __namespace__ = TNS


class CallingUser(_Model):
    """The Moodle identity a call is made for (MNET form)."""

    _type_info = [
        ("username", Text),
        ("remoteuserhostroot", Text),
        ("remotehostroot", Text),
    ]


_IDENTITY = [
    ("USERNAME", RequiredText),
    ("FIRSTNAME", RequiredText),
    ("LASTNAME", RequiredText),
    ("IDNUMBER", RequiredText),
]
_ACTIVITY = [
    ("SECONDS", Int),
    ("EVENTS", Int),
    ("FIRSTACCESS", UtcDateTime),
    ("LASTACCESS", UtcDateTime),
]


class StatsUser(_Model):
    """The user, the window start (Unix time) and whole minutes on the site."""

    _type_info = _IDENTITY + [
        ("FROM", RequiredInt),
        ("ELAPSED", RequiredInt),
        ("ID", Int),
        ("TO", Int),
        *_ACTIVITY,
        ("SESSIONCOUNT", Int),
    ]


class CourseStats(_Model):
    """Time in one course; SECONDS splits into activities, course pages and other pages."""

    _type_info = [
        ("NAME", RequiredText),
        ("SHORTNAME", RequiredText),
        ("IDNUMBER", RequiredText),
        ("ELAPSED", RequiredInt),
        ("ID", Int),
        *_ACTIVITY,
        ("ACTIVITYSECONDS", Int),
        ("COURSESECONDS", Int),
        ("OTHERSECONDS", Int),
    ]


class ModuleStats(_Model):
    """Time in one activity (course module)."""

    _type_info = [
        ("NAME", RequiredText),
        ("TYPE", RequiredText),
        ("IDNUMBER", RequiredText),
        ("ELAPSED", RequiredInt),
        ("ID", Int),
        ("COURSEID", Int),
        ("COURSESHORTNAME", Text),
        *_ACTIVITY,
    ]


class SessionStats(_Model):
    """One working session: from its first event to its last event plus credit."""

    _type_info = [
        ("START", UtcDateTime),
        ("END", UtcDateTime),
        ("SECONDS", Int),
        ("ELAPSED", Int),
    ]


class UseStats(_Model):
    """The answer of GetStats."""

    _type_info = [
        ("USER", StatsUser.customize(min_occurs=1, nillable=False)),
        ("COURSES", Array(CourseStats, member_name="COURSE")),
        ("MODULES", Array(ModuleStats, member_name="MODULE")),
        ("SITECOURSE", CourseStats),
        ("SESSIONS", Array(SessionStats, member_name="SESSION")),
        ("JSON", Text),
    ]


class ScoresUser(_Model):
    """The user whose grades are reported."""

    _type_info = _IDENTITY + [("ID", Int)]


class ScoresCourse(_Model):
    """The course whose grades are reported."""

    _type_info = [
        ("NAME", RequiredText),
        ("SHORTNAME", RequiredText),
        ("IDNUMBER", RequiredText),
        ("ID", Int),
    ]


_GRADE = [
    ("SCORE", Decimal),
    ("GRADEMIN", Decimal),
    ("GRADEMAX", Decimal),
]


class GradeItem(_Model):
    """One grade item of the course and the user's final grade in it."""

    _type_info = [
        ("NAME", RequiredText),
        ("TYPE", RequiredText),
        ("IDNUMBER", RequiredText),
        *_GRADE,
        ("ID", Int),
        ("GRADED", Boolean),
    ]


class UserScores(_Model):
    """The answer of GetScores: the course total, and every item for ``notes/items``."""

    _type_info = [
        ("USER", ScoresUser.customize(min_occurs=1, nillable=False)),
        ("COURSE", ScoresCourse.customize(min_occurs=1, nillable=False)),
        *_GRADE,
        ("ITEMS", Array(GradeItem, member_name="ITEM")),
        ("JSON", Text),
        ("GRADED", Boolean),
    ]


class UseStatsFault(Fault):
    """Every fault of the service; ``status`` is the MNET status number."""

    __namespace__ = TNS
    _type_info = [("status", RequiredInt)]

    def __init__(self, faultcode: str, faultstring: str, status: int) -> None:
        super().__init__(faultcode=faultcode, faultstring=faultstring)
        self.status = status

