"""The nightly books of an ERP (docs/sap.md), kept on the demo site over its whole term.

Each night the ERP asks GetUsersStats for the window from its cut-off to now, with days,
books every final day of every course once, keyed by (learner idnumber, course shortname,
date); then asks for the learners who completed a course in that window (``completed``),
and books each completion once, keyed by (learner idnumber, course shortname, time
completed), with its grade; then moves its cut-off to the first day that is not final. The
books must never need an update, a night run twice must book nothing new, and at the end
they must equal one report over the whole term: windows add up, and a final day stays as
it was booked. (On the engine that computed each window on its own rows, the books missed
the report.)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.site import TERM_END, TERM_START, build_demo_site
from soap_usestats.domain.requests import UsersStatsRequest
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.soap import shaping
from tests.support.examples import ShapedSite

#: The ERP books days in Tokyo: its midnight, and its nights, fall in the demo learners'
#: European afternoons, so that every cut-off and every night lands inside sessions.
ZONE = ZoneInfo("Asia/Tokyo")
LEARNERS = 12
Books = dict[tuple[str, str, date], int]
#: Completion records: (learner, course shortname, time completed) to the grade.
Completions = dict[tuple[str, str, datetime], Decimal | None]


def _at(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime.combine(day, time(hour, minute), ZONE).timestamp())


#: The day the ERP started booking, before the site was installed.
GO_LIVE = _at(date(2026, 1, 1), 0)
#: The nights: every third day at 02:30 through the term and a week after it, and one run
#: in the middle of an afternoon.
NIGHTS = sorted([_at(date(2026, 2, 1) + timedelta(days=n), 2, 30) for n in range(0, 155, 3)]
                + [_at(date(2026, 4, 14), 15, 10)])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('books') / 'moodle.sqlite'}"
    build_demo_site(url, learners=LEARNERS)
    site = ShapedSite(connect(url), MoodleTables())
    yield site
    site.engine.dispose()


def final_days(site, timefrom: int, now: int) -> tuple[Books, int | None]:
    """The final days of every course of every learner with time in ``[timefrom, now]``,
    asked at ``now``, page after page; and the answers' FINALBEFORE."""
    asked = UsersStatsRequest(statsscope="course", timefrom=timefrom, timeto=now, daily=True,
                              timezone=ZONE.key, pagesize=5)
    books: Books = {}
    final_before = None
    for page in pages(site, asked, now):
        for stats in page.USE_STATS or []:
            final_before = int(stats.USER.FINALBEFORE.timestamp())
            for course in stats.COURSES or []:
                for day in course.DAYS or []:
                    if day.FINAL:
                        learner = stats.USER.IDNUMBER or stats.USER.USERNAME
                        books[learner, course.SHORTNAME, day.DATE] = day.SECONDS
    return books, final_before


def pages(site, asked: UsersStatsRequest, now: int):
    """Every page of a GetUsersStats asked at ``now``, as a client reads it."""
    while True:
        page = shaping.users_stats(site.get_users_stats(asked, now=now, caller=OPERATOR))
        yield page
        if not page.NEXTCURSOR:
            return
        asked = replace(asked, cursor=page.NEXTCURSOR)


def completions(site, timefrom: int, now: int) -> Completions:
    """The completions in ``[timefrom, now]`` of the learners who completed a course then,
    asked at ``now``, with their course totals."""
    asked = UsersStatsRequest(statsscope="course", timefrom=timefrom, timeto=now,
                              completed=True, pagesize=5)
    records: Completions = {}
    for page in pages(site, asked, now):
        for stats in page.USE_STATS or []:
            learner = stats.USER.IDNUMBER or stats.USER.USERNAME
            for course in stats.COURSES or []:
                done = course.COMPLETION and course.COMPLETION.TIMECOMPLETED
                if done and timefrom <= done.timestamp() <= now:
                    records[learner, course.SHORTNAME, done] = course.GRADE.SCORE
    return records


def next_cutoff(final_before: int) -> int:
    """The start of the first local day that is not final: the ERP's next cut-off."""
    day = datetime.fromtimestamp(final_before, ZONE).date()
    return int(datetime.combine(day, time(), ZONE).timestamp())


def book(books: dict, found: dict) -> dict:
    """Book what ``found`` holds that ``books`` does not: a booked record is never updated."""
    for key, seconds in found.items():
        assert books.get(key, seconds) == seconds, f"{key} would need an update"
    new = {key: seconds for key, seconds in found.items() if key not in books}
    books.update(new)
    return new


def test_the_nightly_books_equal_one_report_and_a_night_run_twice_books_nothing(site):
    books: Books = {}
    completed: Completions = {}
    cutoff = GO_LIVE
    for night in NIGHTS:
        found, final_before = final_days(site, cutoff, night)
        book(books, found)
        book(completed, completions(site, cutoff, night))
        again, _ = final_days(site, cutoff, night)    # the same night run twice
        assert book(books, again) == {}
        assert book(completed, completions(site, cutoff, night)) == {}
        if final_before is not None:
            assert next_cutoff(final_before) >= cutoff
            cutoff = next_cutoff(final_before)
    whole, _ = final_days(site, GO_LIVE, NIGHTS[-1])
    assert books == whole
    assert completed == completions(site, GO_LIVE, NIGHTS[-1])
    assert len(completed) >= 6 and any(grade is not None for grade in completed.values())
    assert len({learner for learner, _, _ in books}) >= LEARNERS // 2
    # Every day of the term was booked before the last night; none after it is final.
    assert max(day for _, _, day in books) < datetime.fromtimestamp(NIGHTS[-1], ZONE).date()
    assert min(day for _, _, day in books) < datetime.fromtimestamp(TERM_START, ZONE).date()
    assert cutoff > TERM_END
