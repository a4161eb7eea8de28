"""A peer's answers, as zeep decoded them, turned back into plain results.

The peer serves the same contract: each element maps back to the field that
``soap.shaping`` made it from, so an answer relayed through this service is the
peer's own, to the second. An absent optional element is ``None``; an empty
string element comes back as ``None`` too, and is read as empty.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain import results
from ..timemodel.engine import CourseTally, ModuleTally, Session, Tally
from ..timemodel.settings import EffectiveModel


def stats(answer: Any, scope: str) -> results.Stats:
    """``USE_STATS`` as :class:`results.Stats` at ``scope``."""
    user = answer.USER
    courses = [_course(c) for c in _items(answer.COURSES, "COURSE")]
    return results.Stats(
        _person(user), user.FROM, user.TO, scope, _tally(Tally, user, _days(user.DAYS)),
        [Session(_time(s.START), _time(s.END), s.SECONDS) for s in _items(answer.SESSIONS, "SESSION")],
        courses=courses, site_course=_course(answer.SITECOURSE) if answer.SITECOURSE else None,
        modules=[_module(m) for m in _items(answer.MODULES, "MODULE")],
        model=_model(answer.MODEL), zone=answer.MODEL.TIMEZONE if answer.MODEL else None)


def users_stats(answer: Any, scope: str) -> results.UsersStats:
    """``USERS_STATS`` as :class:`results.UsersStats`."""
    return results.UsersStats([stats(one, scope) for one in answer.USE_STATS or []],
                              answer.NEXTCURSOR)


def scores(answer: Any) -> results.Scores:
    """``USER_SCORES`` as :class:`results.Scores`."""
    course = answer.COURSE
    items = None
    if answer.ITEMS is not None:
        items = [results.GradeItem(item.ID, _text(item.NAME), _text(item.TYPE),
                                   _text(item.IDNUMBER), _grade(item))
                 for item in _items(answer.ITEMS, "ITEM")]
    return results.Scores(_person(answer.USER),
                          results.CourseName(course.ID, _text(course.NAME), _text(course.SHORTNAME),
                                             _text(course.IDNUMBER)),
                          _grade(answer), items)


def _items(wrapper: Any, member: str) -> list:
    return getattr(wrapper, member, None) or []


def _text(value: str | None) -> str:
    return value or ""


def _time(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _person(user: Any) -> results.Person:
    return results.Person(user.ID, _text(user.USERNAME), _text(user.FIRSTNAME),
                          _text(user.LASTNAME), _text(user.IDNUMBER))


def _days(days: Any) -> dict:
    return {day.DATE: day.SECONDS for day in _items(days, "DAY")}


def _tally(kind: type[Tally], element: Any, days: dict, **more) -> Tally:
    return kind(seconds=element.SECONDS, events=element.EVENTS, first=_time(element.FIRSTACCESS),
                last=_time(element.LASTACCESS), days=days, **more)


def _course(course: Any) -> results.CourseFigures:
    tally = _tally(CourseTally, course, _days(course.DAYS), activities=course.ACTIVITYSECONDS,
                   course=course.COURSESECONDS, other=course.OTHERSECONDS)
    return results.CourseFigures(course.ID, _text(course.NAME), _text(course.SHORTNAME),
                                 _text(course.IDNUMBER), tally, course.SITE)


def _module(module: Any) -> results.ModuleFigures:
    tally = _tally(ModuleTally, module, {}, courseid=module.COURSEID, label=_text(module.TYPE))
    return results.ModuleFigures(module.ID, _text(module.NAME), _text(module.TYPE),
                                 _text(module.IDNUMBER), module.COURSEID,
                                 _text(module.COURSESHORTNAME), tally, module.SITE)


def _labels(text: str | None) -> frozenset[str]:
    return frozenset(label for label in _text(text).split(",") if label)


def _model(model: Any) -> EffectiveModel | None:
    """The peer's time model; where each setting came from stays the peer's to say."""
    if model is None:
        return None
    values = {"threshold": model.THRESHOLD, "lastpingcredit": model.LASTPINGCREDIT,
              "ignoremodules": _labels(model.IGNOREMODULES),
              "capturemodules": _labels(model.CAPTUREMODULES),
              "enrolmentfilter": bool(model.ENROLMENTFILTER)}
    return EffectiveModel(values, {name: "peer" for name in values})


def _grade(element: Any) -> results.Grade:
    def value(number: Decimal | None) -> Decimal | None:
        return None if number is None else Decimal(number)

    return results.Grade(value(element.SCORE), value(element.GRADEMIN), value(element.GRADEMAX))
