"""Course completions of the demo site, as Moodle's completion cron leaves them.

The rows are added once the rest of the site is built, from a ``Random`` of their own,
so that every other row is the same with or without them. One row per learner and
course: ``timeenrolled`` is the enrolment's start, ``timestarted`` the learner's first
activity view in the course (their first criterion met), ``timecompleted`` NULL until
the course is complete, then when its last criterion was met; ``reaggregate`` 0.
Completion tracking is on for the site and every course but COMM201.

The cases of the contract's learning record:
- the reference learner completes the reference course (PM110) inside the worked
  example's window, when they open its learning time check; GDPR is in progress and
  WHS101 has no row (not started), where they are enrolled there (``ReferenceLearner``);
- a learner completes a course on a day without a log row of theirs in it: a
  teacher's grade met the last criterion (``CompletionCases.idle``);
- rows left in COMM201, whose tracking was turned off after the term; completions by
  the deleted learner and by the site's guest user (a stray row, on the day the
  reference learner completes); a row with ``timestarted`` 0 and an
  enrolment without a row (both not started); a row with ``timecompleted`` 0, which is
  no completion (Moodle's ``(bool) timecompleted``);
- every other learner and course: complete, in progress or not started, at random.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .site import _Course, _Enrolment, _Site, _User

HOUR, DAY = 3600, 86400
#: The course whose completion tracking is off; its rows from before stay.
UNTRACKED = "COMM201"
#: The reference learner's course in progress and course not started, where enrolled.
IN_PROGRESS, NOT_STARTED = "GDPR", "WHS101"
#: How often each state comes for a learner who opened some of the course's activities.
STATES = {"complete": 4, "inprogress": 3, "unstarted": 1.5, "unrecorded": 1.5}
_Case = TypeVar("_Case")


def _day(t: int) -> tuple[int, int]:
    """The UTC day holding `t`: its first and last second."""
    start = t - t % DAY
    return start, start + DAY - 1


@dataclass(frozen=True)
class Completion:
    """A course_completions row (Unix times)."""

    userid: int
    username: str               # user.username (the deleted user's is the one Moodle mangled)
    course_shortname: str
    timeenrolled: int
    timestarted: int            # 0: not started
    timecompleted: int | None   # None (or 0): not complete


@dataclass(frozen=True)
class Unrecorded:
    """An enrolment in a course that tracks completion, with no course_completions row."""

    userid: int
    username: str
    course_shortname: str


@dataclass(frozen=True)
class CompletionCases:
    """The completion cases of the demo besides the reference learner's. A case is None
    only on a site too small for any learner to play it (with seed 2026, none is from 2
    to 60 learners)."""

    idle: Completion | None     # completed on a day without a log row of theirs in the course
    idle_day: tuple[int, int] | None   # that UTC day (timefrom, timeto): the course, ELAPSED 0
    zero: Completion | None     # timecompleted 0: in progress, not a completion
    unrecorded: Unrecorded | None   # no row: not started
    unstarted: Completion | None    # timestarted 0: not started
    untracked: Completion | None    # complete in COMM201, where tracking is off: never shown
    deleted: Completion | None  # by the deleted learner: never in a population
    guest: Completion           # by the site's guest user, on the reference learner's
                                # completion day: never in a population


class Completions:
    """Adds the course_completions rows to a built ``_Site``; tells who plays which case."""

    def __init__(self, site: _Site) -> None:
        self.site, self.rng = site, Random(f"completions:{site.seed}")
        self.rows: list[dict[str, Any]] = []
        self.times: dict[tuple[int, int], list[int]] = {}   # (user, course) -> own rows
        self.views: dict[tuple[int, int], list[tuple[int, int]]] = {}   # -> (time, cmid)
        self.gradings: dict[tuple[int, int], list[int]] = {}   # graded by someone else
        for row in site.logs:
            key = (row["userid"], row["courseid"])
            self.times.setdefault(key, []).append(row["timecreated"])
            if (row["target"], row["action"], row["origin"], row["realuserid"]) == (
                    "course_module", "viewed", "web", None):
                self.views.setdefault(key, []).append(
                    (row["timecreated"], row["contextinstanceid"]))
            if (row["target"], row["action"]) == ("user", "graded") and (
                    row["relateduserid"] != row["userid"]):
                self.gradings.setdefault((row["relateduserid"], row["courseid"]), []).append(
                    row["timecreated"])
        self.pool = [(user, e) for user in site.all_learners for e in user.enrolments
                     if not e.pending]
        self.reference()
        self.cases = self.special_cases()
        for user, e in self.pool:
            self.at_random(user, e)
        for row in sorted(self.rows, key=lambda r: (r["timeenrolled"], r["course"], r["userid"])):
            site.add(site.t.course_completions, **row, reaggregate=0)

    def reference(self) -> None:
        """PM110 complete at the worked example's learning time check; GDPR in progress and
        WHS101 without a row where enrolled there, else other courses of theirs that track."""
        ref, course = self.site.ref, self.site.ref_course
        _, e = self.pick(lambda u, e: u is ref and e.course is course)
        views = self.opened(ref, e)
        checked = next(t for t, cmid in views if cmid == course.first("learningtimecheck").id)
        self.ref_completed = self.record(ref, e, views[0][0], checked)

        def own(first: str, fits: Callable[[_Enrolment], bool]) -> _Enrolment | None:
            found = sorted((e for u, e in self.pool if u is ref and self.tracks(e) and fits(e)),
                           key=lambda e: e.course.shortname != first)
            if found:
                self.pool.remove((ref, found[0]))
            return found[0] if found else None

        going = own(IN_PROGRESS, lambda e: e.course.shortname != NOT_STARTED
                    and bool(self.opened(ref, e)))
        waiting = own(NOT_STARTED, lambda e: True)
        self.ref_inprogress = None if going is None else self.record(
            ref, going, self.opened(ref, going)[0][0], None)
        self.ref_notstarted = None if waiting is None else Unrecorded(
            ref.id, ref.username, waiting.course.shortname)

    def special_cases(self) -> CompletionCases:
        """Each case played by an enrolment taken at random among those that fit it."""
        site = self.site
        studying = [*site.learners[1:], site.suspended]
        idle = self.case(lambda u, e: u in studying and self.tracks(e)
                         and self.quiet_grading(u, e) is not None, self.idle)
        deleted = self.case(lambda u, e: u is site.deleted and self.studied(u, e),
                            self.complete)
        untracked = self.case(lambda u, e: u in [site.ref, *studying] and not self.tracks(e)
                              and bool(self.opened(u, e)), self.complete)
        zero = self.case(lambda u, e: u in studying and self.studied(u, e),
                         lambda u, e: self.record(u, e, self.opened(u, e)[0][0], 0))
        unrecorded = self.case(
            lambda u, e: u in studying and self.tracks(e) and (u.id, e.course.id) in self.times,
            lambda u, e: Unrecorded(u.id, u.username, e.course.shortname))
        unstarted = self.case(lambda u, e: u in studying and self.tracks(e),
                              lambda u, e: self.record(u, e, 0, None))
        course = self.rng.choice([c for c in site.courses if c.shortname != UNTRACKED])
        when = _day(self.ref_completed.timecompleted)[0] + self.rng.randrange(9 * HOUR, 18 * HOUR)
        guest = self.row(site.guest, course, 0, when, when)
        idle_day = None if idle is None else _day(idle.timecompleted)
        return CompletionCases(idle=idle, idle_day=idle_day, zero=zero, unrecorded=unrecorded,
                               unstarted=unstarted, untracked=untracked, deleted=deleted,
                               guest=guest)

    def quiet_grading(self, user: _User, e: _Enrolment) -> int | None:
        """The first time someone else graded the learner in the course on a day (± an hour,
        so in UTC as in London) without a row of theirs in it."""
        own = self.times.get((user.id, e.course.id), [])
        for when in self.gradings.get((user.id, e.course.id), []):
            start, end = _day(when)
            if not any(start - HOUR <= t <= end + HOUR for t in own):
                return when
        return None

    def idle(self, user: _User, e: _Enrolment) -> Completion:
        """Completed by the teacher's grade (the last criterion), started at their first view."""
        when = self.quiet_grading(user, e)
        before = [t for t, _ in self.opened(user, e) if t < when]
        return self.record(user, e, before[0] if before else when, when)

    def at_random(self, user: _User, e: _Enrolment) -> None:
        opened = self.opened(user, e)
        if opened:
            state = self.rng.choices(list(STATES), list(STATES.values()))[0]
        else:
            state = self.rng.choice(("unstarted", "unrecorded"))
        if state == "complete":
            self.complete(user, e)
        elif state == "inprogress":
            self.record(user, e, opened[0][0], None)
        elif state == "unstarted":
            self.record(user, e, 0, None)

    # -- helpers ----------------------------------------------------------------

    def opened(self, user: _User, e: _Enrolment) -> list[tuple[int, int]]:
        """The learner's own activity views in the course: (time, cmid), in time order."""
        return self.views.get((user.id, e.course.id), [])

    @staticmethod
    def tracks(e: _Enrolment) -> bool:
        return e.course.shortname != UNTRACKED

    def studied(self, user: _User, e: _Enrolment) -> bool:
        """In a course that tracks completion, with some activity opened."""
        return self.tracks(e) and bool(self.opened(user, e))

    def pick(self, fits: Callable[[_User, _Enrolment], bool]) -> tuple[_User, _Enrolment] | None:
        """One of the enrolments left that fits, at random, taken out of the pool."""
        found = [(user, e) for user, e in self.pool if fits(user, e)]
        if not found:
            return None
        chosen = self.rng.choice(found)
        self.pool.remove(chosen)
        return chosen

    def case(self, fits: Callable[[_User, _Enrolment], bool],
             play: Callable[[_User, _Enrolment], _Case]) -> _Case | None:
        chosen = self.pick(fits)
        return None if chosen is None else play(*chosen)

    def complete(self, user: _User, e: _Enrolment) -> Completion:
        """Started at the first activity view, completed at a later one (or that one)."""
        opened = self.opened(user, e)
        return self.record(user, e, opened[0][0], self.rng.choice(opened[1:] or opened)[0])

    def record(self, user: _User, e: _Enrolment, started: int,
               completed: int | None) -> Completion:
        return self.row(user, e.course, e.start, started, completed)

    def row(self, user: _User, course: _Course, enrolled: int, started: int,
            completed: int | None) -> Completion:
        self.rows.append(dict(userid=user.id, course=course.id, timeenrolled=enrolled,
                              timestarted=started, timecompleted=completed))
        return Completion(user.id, user.row["username"], course.shortname, enrolled, started,
                          completed)
