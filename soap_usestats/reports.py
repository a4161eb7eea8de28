"""Shape the figures into the contract's answers (``USE_STATS``, ``USER_SCORES``).

Times are kept in seconds and reported as ``ELAPSED`` in whole minutes rounded
down, each figure on its own, as the block's MNET service does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, UTC
from decimal import Decimal

from sqlalchemy import Row
from spyne import ComplexModel
from spyne.util.dictdoc import get_object_as_dict

from .messages import (
    CourseStats,
    GradeItem,
    ModuleStats,
    ScoresCourse,
    ScoresUser,
    SessionStats,
    StatsUser,
    UserScores,
    UseStats,
)
from .timemodel import CourseTally, ModuleTally, Tally, Usage

GRADE_PLACES = Decimal("0.00001")
#: Grade types with a score: 1 value, 2 scale (0 none and 3 text have none).
SCORED_GRADE_TYPES = (1, 2)


def _utc(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _activity(tally: Tally) -> dict:
    return {
        "ELAPSED": tally.seconds // 60,
        "SECONDS": tally.seconds,
        "EVENTS": tally.events,
        "FIRSTACCESS": _utc(tally.first),
        "LASTACCESS": _utc(tally.last),
    }


def _course(courseid: int, course: Row | None, tally: CourseTally) -> CourseStats:
    """A course's figures; a course deleted since its log rows were written has no names."""
    return CourseStats(
        NAME=course.fullname if course else "", SHORTNAME=course.shortname if course else "",
        IDNUMBER=(course.idnumber if course else None) or "", ID=courseid,
        ACTIVITYSECONDS=tally.activities, COURSESECONDS=tally.course, OTHERSECONDS=tally.other,
        **_activity(tally),
    )


def _identity(user: Row) -> dict:
    return {"USERNAME": user.username, "FIRSTNAME": user.firstname,
            "LASTNAME": user.lastname, "IDNUMBER": user.idnumber or "", "ID": user.id}


def use_stats(user: Row, window: tuple[int, int], usage: Usage, scope: str,
              courses: Mapping[int, Row], modules: Mapping[int, tuple[Row | None, str]]) -> UseStats:
    """``USE_STATS`` for one user.

    ``courses`` holds the rows of the courses in ``usage`` that still exist; ``modules``,
    for the module scope, maps a cmid to its course module row (``None`` when
    it no longer exists) and its activity name.
    """
    start, end = window
    result = UseStats(
        USER=StatsUser(FROM=start, TO=end, SESSIONCOUNT=len(usage.sessions),
                       **_identity(user), **_activity(usage.total)),
        SESSIONS=[SessionStats(START=_utc(s.start), END=_utc(s.end), SECONDS=s.seconds,
                               ELAPSED=s.seconds // 60) for s in usage.sessions],
    )
    if scope == "course":
        front_page = {cid for cid, course in courses.items() if course.category == 0}
        reported = {cid: _course(cid, courses.get(cid), tally) for cid, tally in usage.courses.items()}
        result.COURSES = sorted((c for cid, c in reported.items() if cid not in front_page),
                                key=lambda c: (c.SHORTNAME, c.ID))
        result.SITECOURSE = next((c for cid, c in reported.items() if cid in front_page), None)
    elif scope == "module":
        result.MODULES = sorted(
            (_module(cmid, tally, *modules[cmid], courses.get(tally.courseid))
             for cmid, tally in usage.modules.items()),
            key=lambda m: (m.COURSESHORTNAME or "", m.NAME, m.ID),
        )
    return result


def _module(cmid: int, tally: ModuleTally, cm: Row | None, name: str,
            course: Row | None) -> ModuleStats:
    return ModuleStats(
        NAME=name, TYPE=cm.modname if cm is not None else tally.label,
        IDNUMBER=(cm.idnumber if cm is not None else None) or "", ID=cmid,
        COURSEID=tally.courseid, COURSESHORTNAME=course.shortname if course is not None else "",
        **_activity(tally),
    )


def _grade(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(GRADE_PLACES)


def user_scores(user: Row, course: Row, grades: list[Row], with_items: bool) -> UserScores:
    """``USER_SCORES``: the course total, and with ``with_items`` every scored item."""
    result = UserScores(
        USER=ScoresUser(**_identity(user)),
        COURSE=ScoresCourse(NAME=course.fullname, SHORTNAME=course.shortname,
                            IDNUMBER=course.idnumber or "", ID=course.id),
    )
    result.GRADED = False
    for item in grades:
        if item.itemtype == "course":
            result.SCORE = _grade(item.finalgrade)
            result.GRADEMIN, result.GRADEMAX = _grade(item.grademin), _grade(item.grademax)
            result.GRADED = item.finalgrade is not None
    if with_items:
        result.ITEMS = [
            GradeItem(
                NAME=item.itemname or item.categoryname or "",
                TYPE=item.itemmodule if item.itemtype == "mod" else item.itemtype,
                IDNUMBER=item.idnumber or "", SCORE=_grade(item.finalgrade),
                GRADEMIN=_grade(item.grademin), GRADEMAX=_grade(item.grademax), ID=item.id,
                GRADED=item.finalgrade is not None,
            )
            for item in grades
            if item.itemtype != "course" and item.gradetype in SCORED_GRADE_TYPES
        ]
    return result


def _json_value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def with_json(result: ComplexModel) -> ComplexModel:
    """Add ``JSON``: the same answer as one JSON document, for middleware that forwards strings."""
    data = get_object_as_dict(result, type(result))
    result.JSON = json.dumps(data, default=_json_value, ensure_ascii=False, separators=(",", ":"))
    return result
