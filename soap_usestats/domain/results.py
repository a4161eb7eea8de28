"""What the site answers, as plain data: the figures of one user, and their grades.

The SOAP, JSON and federated answers are all shaped from these; they
know nothing of any protocol. Times are in seconds, Unix times are integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..timemodel.engine import CourseTally, ModuleTally, Session, Tally
from ..timemodel.settings import EffectiveModel


@dataclass(frozen=True)
class Person:
    """A Moodle user as the answers name them."""

    id: int
    username: str
    firstname: str
    lastname: str
    idnumber: str


@dataclass(frozen=True)
class Completion:
    """A user's completion of a course (``course_completions``): ``status`` is
    ``complete``, ``inprogress`` or ``notstarted``; a time is ``None`` when Moodle has none."""

    status: str
    timeenrolled: int | None = None
    timestarted: int | None = None
    timecompleted: int | None = None


@dataclass(frozen=True)
class CourseFigures:
    """Time in one course; the names are empty once the course is deleted. ``final_days``:
    those of its days whose figures are final (``finality``), as its site says.

    The course's learning record, in course scope: ``completion`` where the site and
    the course track completion, ``grade`` (the course total) where the caller may see
    the user's grades there; ``None`` otherwise.
    """

    id: int
    fullname: str
    shortname: str
    idnumber: str
    tally: CourseTally
    site: str | None = None   # whereroot *: the wwwroot of the course's site
    final_days: frozenset[date] = frozenset()
    completion: Completion | None = None
    grade: Grade | None = None


@dataclass(frozen=True)
class ModuleFigures:
    """Time in one course module; the names are empty once it is deleted."""

    id: int
    name: str
    type: str
    idnumber: str
    courseid: int
    courseshortname: str
    tally: ModuleTally
    site: str | None = None   # whereroot *: the wwwroot of the module's site


@dataclass(frozen=True)
class Stats:
    """GetStats: one user's time in the window ``[start, end]``, at the asked scope.

    ``courses`` (course scope) leaves the site course out: it is ``site_course``.
    Courses come by shortname, modules by course shortname then name. With days,
    ``zone`` names their time zone and the tallies hold them. ``model`` is the time
    model the figures were computed with. ``sites`` (whereroot ``*``) holds each
    site's own answer, whose figures these sum; the site courses are theirs.

    ``sessions`` lists the sessions when they were asked for (else ``None``);
    ``session_count`` counts them always. Rows before ``final_before`` (a Unix time;
    ``None`` when a site did not say) have their final seconds; ``final_days`` are the
    user's dates whose figures are final (``finality``); a course's are its own.
    """

    user: Person
    start: int
    end: int
    scope: str
    total: Tally
    sessions: list[Session] | None
    session_count: int
    courses: list[CourseFigures] = field(default_factory=list)
    site_course: CourseFigures | None = None
    modules: list[ModuleFigures] = field(default_factory=list)
    model: EffectiveModel | None = None
    zone: str | None = None
    sites: list[SiteFigures] | None = None
    final_before: int | None = None
    final_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class SiteFigures:
    """One site's part of a whereroot ``*`` answer: its wwwroot, and its own Stats."""

    wwwroot: str
    stats: Stats


@dataclass(frozen=True)
class UsersStats:
    """GetUsersStats: a page of users' Stats in id order, and the cursor of the next page
    (``None`` on the last)."""

    stats: list[Stats]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Grade:
    """A final grade and the bounds of its item; ``score`` None when not graded."""

    score: Decimal | None
    grademin: Decimal | None
    grademax: Decimal | None

    @property
    def graded(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class GradeItem:
    """One scored grade item of a course, with the user's grade in it."""

    id: int
    name: str
    type: str
    idnumber: str
    grade: Grade


@dataclass(frozen=True)
class CourseName:
    """A course as GetScores names it."""

    id: int
    fullname: str
    shortname: str
    idnumber: str


@dataclass(frozen=True)
class Scores:
    """GetScores: one user's course total in one course, and its items when asked."""

    user: Person
    course: CourseName
    total: Grade
    items: list[GradeItem] | None = None
