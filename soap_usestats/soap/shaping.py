"""The site's plain answers shaped into the contract's messages (``USE_STATS``,
``USERS_STATS``, ``USER_SCORES``), and into the JSON of ``json_response``.

Times are kept in seconds and reported as ``ELAPSED`` in whole minutes rounded
down, each figure on its own, as the block's MNET service does.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from spyne import ComplexModel
from spyne.util.dictdoc import get_object_as_dict

from ..domain import results
from ..timemodel.engine import Tally
from . import messages
from .messages import UTC_FORMAT


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


def _identity(user: results.Person) -> dict:
    return {"USERNAME": user.username, "FIRSTNAME": user.firstname,
            "LASTNAME": user.lastname, "IDNUMBER": user.idnumber, "ID": user.id}


def _days(tally: Tally, final: frozenset[date]) -> list[messages.DayStats]:
    return [messages.DayStats(DATE=day, ELAPSED=seconds // 60, SECONDS=seconds,
                              FINAL=day in final)
            for day, seconds in sorted(tally.days.items())]


def _completion(completion: results.Completion | None) -> messages.CourseCompletion | None:
    if completion is None:
        return None
    return messages.CourseCompletion(
        STATUS=completion.status, TIMEENROLLED=_utc(completion.timeenrolled),
        TIMESTARTED=_utc(completion.timestarted), TIMECOMPLETED=_utc(completion.timecompleted))


def _course(course: results.CourseFigures, daily: bool) -> messages.CourseStats:
    tally = course.tally
    return messages.CourseStats(
        NAME=course.fullname, SHORTNAME=course.shortname, IDNUMBER=course.idnumber, ID=course.id,
        ACTIVITYSECONDS=tally.activities, COURSESECONDS=tally.course, OTHERSECONDS=tally.other,
        DAYS=_days(tally, course.final_days) if daily else None, SITE=course.site,
        COMPLETION=_completion(course.completion),
        GRADE=messages.CourseGrade(**_grade(course.grade)) if course.grade else None,
        **_activity(tally),
    )


def _model(stats: results.Stats) -> messages.ModelSettings | None:
    if stats.model is None:
        return None
    values = stats.model.values
    return messages.ModelSettings(
        THRESHOLD=values["threshold"], LASTPINGCREDIT=values["lastpingcredit"],
        IGNOREMODULES=",".join(sorted(values["ignoremodules"])),
        CAPTUREMODULES=",".join(sorted(values["capturemodules"])),
        ENROLMENTFILTER=values["enrolmentfilter"], TIMEZONE=stats.zone)


def _module(module: results.ModuleFigures) -> messages.ModuleStats:
    return messages.ModuleStats(
        NAME=module.name, TYPE=module.type, IDNUMBER=module.idnumber, ID=module.id,
        COURSEID=module.courseid, COURSESHORTNAME=module.courseshortname, SITE=module.site,
        **_activity(module.tally),
    )


def _site(site: results.SiteFigures) -> messages.SiteStats:
    stats = site.stats
    return messages.SiteStats(
        WWWROOT=site.wwwroot, MODEL=_model(stats), FINALBEFORE=_utc(stats.final_before),
        SITECOURSE=(_course(stats.site_course, stats.zone is not None)
                    if stats.scope == "course" and stats.site_course else None),
        **_activity(stats.total))


def use_stats(stats: results.Stats) -> messages.UseStats:
    """``USE_STATS`` for one user: courses at course scope, modules at module scope, and
    the days of the user and each course and the sessions when they were asked for."""
    daily = stats.zone is not None
    answer = messages.UseStats(
        USER=messages.StatsUser(FROM=stats.start, TO=stats.end, SESSIONCOUNT=stats.session_count,
                                DAYS=_days(stats.total, stats.final_days) if daily else None,
                                FINALBEFORE=_utc(stats.final_before),
                                **_identity(stats.user), **_activity(stats.total)),
        MODEL=_model(stats),
    )
    if stats.sessions is not None:
        answer.SESSIONS = [messages.SessionStats(START=_utc(s.start), END=_utc(s.end),
                                                 SECONDS=s.seconds, ELAPSED=s.seconds // 60)
                           for s in stats.sessions]
    if stats.scope == "course":
        answer.COURSES = [_course(course, daily) for course in stats.courses]
        answer.SITECOURSE = _course(stats.site_course, daily) if stats.site_course else None
    elif stats.scope == "module":
        answer.MODULES = [_module(module) for module in stats.modules]
    if stats.sites is not None:
        answer.SITES = [_site(site) for site in stats.sites]
    return answer


def users_stats(page: results.UsersStats) -> messages.UsersStats:
    """``USERS_STATS``: each user's ``USE_STATS``, and the cursor of the next page."""
    return messages.UsersStats(USE_STATS=[use_stats(stats) for stats in page.stats],
                               NEXTCURSOR=page.next_cursor)


def _grade(grade: results.Grade) -> dict:
    return {"SCORE": grade.score, "GRADEMIN": grade.grademin, "GRADEMAX": grade.grademax,
            "GRADED": grade.graded}


def user_scores(scores: results.Scores) -> messages.UserScores:
    """``USER_SCORES``: the course total, and every scored item when they were asked for."""
    course = scores.course
    answer = messages.UserScores(
        USER=messages.ScoresUser(**_identity(scores.user)),
        COURSE=messages.ScoresCourse(NAME=course.fullname, SHORTNAME=course.shortname,
                                     IDNUMBER=course.idnumber, ID=course.id),
        **_grade(scores.total),
    )
    if scores.items is not None:
        answer.ITEMS = [messages.GradeItem(NAME=item.name, TYPE=item.type, IDNUMBER=item.idnumber,
                                           ID=item.id, **_grade(item.grade))
                        for item in scores.items]
    return answer


def _json_value(value):
    if isinstance(value, datetime):
        return value.strftime(UTC_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def with_json(answer: ComplexModel) -> ComplexModel:
    """Add ``JSON``: the same answer as one JSON document, for middleware that forwards strings."""
    data = get_object_as_dict(answer, type(answer))
    answer.JSON = json.dumps(data, default=_json_value, ensure_ascii=False, separators=(",", ":"))
    return answer
