"""A peer's answers, as zeep decoded them, checked against the contract and turned back
into plain results.

The peer serves the same contract: each element maps back to the field that
``soap.shaping`` made it from, so an answer relayed through this service is the
peer's own, to the second. The peer is a party to be checked all the same: every
integer is a non-negative ``xs:int``, each ``ELAPSED`` is the whole minutes of its
``SECONDS``, a ``DAY`` is ``FINAL`` exactly when it lies before ``FINALBEFORE``, the
sessions listed are ``SESSIONCOUNT``, a ``COMPLETION``'s ``STATUS`` is what its times say,
a ``GRADE`` is ``GRADED`` exactly when it has a ``SCORE``, and every element the answer needs is there;
anything else is :class:`BrokenAnswer`, naming the element. An empty string element
comes back from zeep as ``None``, and is read as empty.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..domain import finality, params, results
from ..exceptions import InvalidParameter
from ..timemodel.engine import CourseTally, ModuleTally, Session, Tally
from ..timemodel.settings import EffectiveModel

#: The largest ``xs:int``.
MAX_INT = 2**31 - 1


class BrokenAnswer(ValueError):
    """An answer against the contract; the message names the element and what is wrong."""


class _Element:
    """One element of an answer, read by the contract's rules; ``name`` names it in messages."""

    def __init__(self, value: Any, name: str) -> None:
        self.value, self.name = value, name

    def _child(self, child: str, kind: type | tuple[type, ...], required: bool,
               what: str) -> Any:
        """The child's value, which must be a ``kind`` (``what`` in messages)."""
        value = getattr(self.value, child, None)
        if value is None:
            if required:
                raise BrokenAnswer(f"{self.name}/{child} is missing")
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise BrokenAnswer(f"{self.name}/{child} is not {what}")
        return value

    def element(self, child: str, required: bool = True) -> _Element | None:
        """A child element (``None`` when it is optional and absent)."""
        value = getattr(self.value, child, None)
        if value is None and required:
            raise BrokenAnswer(f"{self.name}/{child} is missing")
        return None if value is None else _Element(value, child)

    def repeated(self, member: str, wrapper: str | None = None) -> list[_Element]:
        """Each ``member`` element, directly in this one or in its ``wrapper`` list."""
        holder = self.value if wrapper is None else getattr(self.value, wrapper, None)
        members = getattr(holder, member, None) or []
        if not isinstance(members, list):
            raise BrokenAnswer(f"{wrapper or self.name}/{member} is not a list")
        return [_Element(value, member) for value in members]

    def count(self, child: str, required: bool = True) -> int | None:
        """A non-negative ``xs:int``."""
        value = self._child(child, int, required, "an integer")
        if value is not None and not -MAX_INT <= value <= MAX_INT:
            raise BrokenAnswer(f"{self.name}/{child} is beyond xs:int")
        if value is not None and value < 0:
            raise BrokenAnswer(f"{self.name}/{child} {value} is negative")
        return value

    def seconds(self) -> int:
        """``SECONDS``, whose whole minutes ``ELAPSED`` must be."""
        seconds, elapsed = self.count("SECONDS"), self.count("ELAPSED")
        if elapsed != seconds // 60:
            raise BrokenAnswer(f"{self.name}/ELAPSED {elapsed} is not SECONDS {seconds} // 60")
        return seconds

    def text(self, child: str, empty: str | None = "") -> str | None:
        """A string; ``empty`` when it is absent or empty."""
        return self._child(child, str, False, "a string") or empty

    def instant(self, child: str, required: bool = False) -> int | None:
        """An ``xs:dateTime`` as Unix time."""
        value = self._child(child, datetime, required, "a dateTime")
        return None if value is None else int(value.timestamp())

    def day(self, child: str) -> date:
        value = self._child(child, date, True, "a date")
        if isinstance(value, datetime):
            raise BrokenAnswer(f"{self.name}/{child} is not a date")
        return value

    def decimal(self, child: str) -> Decimal | None:
        value = self._child(child, (Decimal, int), False, "a decimal")
        return None if value is None else Decimal(value)

    def flag(self, child: str) -> bool:
        return bool(self._child(child, bool, False, "a boolean"))


def stats(answer: Any, scope: str, sessions: bool = False) -> results.Stats:
    """``USE_STATS`` as :class:`results.Stats` at ``scope``, with its sessions listed when they
    were asked for (``sessions``)."""
    use_stats = _Element(answer, "USE_STATS")
    user = use_stats.element("USER")
    site_course = use_stats.element("SITECOURSE", required=False)
    model = use_stats.element("MODEL", required=False)
    zone = model.text("TIMEZONE", None) if model else None
    final = _Final(user.instant("FINALBEFORE"), _zone(zone))
    days, final_days = final.days(user)
    count, listed = user.count("SESSIONCOUNT"), None
    if sessions:
        listed = [Session(s.instant("START", True), s.instant("END", True), s.seconds())
                  for s in use_stats.repeated("SESSION", "SESSIONS")]
        if len(listed) != count:
            raise BrokenAnswer(f"USER/SESSIONCOUNT {count} is not the number of SESSION, "
                               f"{len(listed)}")
    return results.Stats(
        _person(user), user.count("FROM"), user.count("TO"), scope,
        _tally(Tally, user, days), listed, count,
        courses=[_course(course, final) for course in use_stats.repeated("COURSE", "COURSES")],
        site_course=_course(site_course, final) if site_course else None,
        modules=[_module(module) for module in use_stats.repeated("MODULE", "MODULES")],
        model=_model(model), zone=zone, final_before=final.before, final_days=final_days)


def users_stats(answer: Any, scope: str, sessions: bool = False) -> results.UsersStats:
    """``USERS_STATS`` as :class:`results.UsersStats`."""
    page = _Element(answer, "USERS_STATS")
    return results.UsersStats([stats(one.value, scope, sessions)
                               for one in page.repeated("USE_STATS")],
                              page.text("NEXTCURSOR", None))


def scores(answer: Any) -> results.Scores:
    """``USER_SCORES`` as :class:`results.Scores`."""
    user_scores = _Element(answer, "USER_SCORES")
    course = user_scores.element("COURSE")
    items = None
    if user_scores.element("ITEMS", required=False):
        items = [results.GradeItem(item.count("ID"), item.text("NAME"), item.text("TYPE"),
                                   item.text("IDNUMBER"), _grade(item))
                 for item in user_scores.repeated("ITEM", "ITEMS")]
    return results.Scores(_person(user_scores.element("USER")),
                          results.CourseName(course.count("ID"), course.text("NAME"),
                                             course.text("SHORTNAME"), course.text("IDNUMBER")),
                          _grade(user_scores), items)


def _person(user: _Element) -> results.Person:
    return results.Person(user.count("ID"), user.text("USERNAME"), user.text("FIRSTNAME"),
                          user.text("LASTNAME"), user.text("IDNUMBER"))


class _Final:
    """What makes a day of the answer final: its ``FINALBEFORE``, in the zone of its days."""

    def __init__(self, before: int | None, zone: ZoneInfo | None) -> None:
        self.before = before
        self.first_open = (None if before is None or zone is None
                           else finality.first_open_day(zone, before))

    def days(self, element: _Element) -> tuple[dict[date, int], frozenset[date]]:
        """Each ``DAY``'s seconds, and the days ``FINAL``: exactly those that lie wholly
        before ``FINALBEFORE`` (none when it is absent)."""
        days, final = {}, set()
        for day in element.repeated("DAY", "DAYS"):
            when, said = day.day("DATE"), day.flag("FINAL")
            days[when] = day.seconds()
            if said != (self.first_open is not None and when < self.first_open):
                raise BrokenAnswer(f"DAY/FINAL of {when} is {'true' if said else 'false'}, "
                                   "against USER/FINALBEFORE")
            if said:
                final.add(when)
        return days, frozenset(final)


def _zone(name: str | None) -> ZoneInfo | None:
    """The zone of the days, as ``MODEL/TIMEZONE`` names it."""
    if name is None:
        return None
    try:
        return params.zone(name, "UTC")
    except InvalidParameter:
        raise BrokenAnswer("MODEL/TIMEZONE is not a time zone this service knows") from None


def _tally(kind: type[Tally], element: _Element, days: dict, **more) -> Tally:
    return kind(seconds=element.seconds(), events=element.count("EVENTS"),
                first=element.instant("FIRSTACCESS"), last=element.instant("LASTACCESS"),
                days=days, **more)


def _course(course: _Element, final: _Final) -> results.CourseFigures:
    days, final_days = final.days(course)
    tally = _tally(CourseTally, course, days, activities=course.count("ACTIVITYSECONDS"),
                   course=course.count("COURSESECONDS"), other=course.count("OTHERSECONDS"))
    grade = course.element("GRADE", required=False)
    return results.CourseFigures(course.count("ID"), course.text("NAME"), course.text("SHORTNAME"),
                                 course.text("IDNUMBER"), tally, course.text("SITE", None),
                                 final_days, _completion(course.element("COMPLETION", False)),
                                 _graded(grade) if grade else None)


def _completion(completion: _Element | None) -> results.Completion | None:
    """``COMPLETION``, whose ``STATUS`` must be what its times say."""
    if completion is None:
        return None
    status = completion.text("STATUS")
    enrolled, started, completed = (completion.instant(name) for name in
                                    ("TIMEENROLLED", "TIMESTARTED", "TIMECOMPLETED"))
    expected = "complete" if completed else "inprogress" if started else "notstarted"
    if status != expected:
        raise BrokenAnswer(f"COMPLETION/STATUS {status!r} is not what its times say, {expected}")
    return results.Completion(status, enrolled, started, completed)


def _module(module: _Element) -> results.ModuleFigures:
    tally = _tally(ModuleTally, module, {}, courseid=module.count("COURSEID"),
                   label=module.text("TYPE"))
    return results.ModuleFigures(module.count("ID"), module.text("NAME"), module.text("TYPE"),
                                 module.text("IDNUMBER"), module.count("COURSEID"),
                                 module.text("COURSESHORTNAME"), tally, module.text("SITE", None))


def _labels(text: str) -> frozenset[str]:
    return frozenset(label for label in text.split(",") if label)


def _model(model: _Element | None) -> EffectiveModel | None:
    """The peer's time model; where each setting came from stays the peer's to say."""
    if model is None:
        return None
    values = {"threshold": model.count("THRESHOLD"),
              "lastpingcredit": model.count("LASTPINGCREDIT"),
              "ignoremodules": _labels(model.text("IGNOREMODULES")),
              "capturemodules": _labels(model.text("CAPTUREMODULES")),
              "enrolmentfilter": model.flag("ENROLMENTFILTER")}
    return EffectiveModel(values, {name: "peer" for name in values})


def _grade(element: _Element) -> results.Grade:
    return results.Grade(element.decimal("SCORE"), element.decimal("GRADEMIN"),
                         element.decimal("GRADEMAX"))


def _graded(element: _Element) -> results.Grade:
    """A course's ``GRADE``, whose ``GRADED`` must say whether ``SCORE`` is there."""
    grade = _grade(element)
    if element.flag("GRADED") != grade.graded:
        raise BrokenAnswer(f"GRADE/GRADED is not whether GRADE/SCORE is there "
                           f"({'present' if grade.graded else 'absent'})")
    return grade
