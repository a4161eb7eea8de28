"""The ledger end to end: GetStats asked of the service (the WSGI application) while the
service's compiler books the log, over days that are all final.

- a purge of old log rows leaves the figures of their days as they were;
- a row written late (a new id, an older time) changes its day and session to what the
  reference engine gives over the log, and no other day or session;
- two services sharing a ledger database compile one at a time (no two passes overlap,
  each made under its own lease; the other skips), and answer alike, as the log does.

On a Moodle on SQLite, with a ledger on SQLite, PostgreSQL and MariaDB (shared: on the
two servers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from soap_usestats import contexts
from soap_usestats.config import Settings
from soap_usestats.domain import compiling
from soap_usestats.domain.compiling import BackgroundCompiler
from soap_usestats.ledger import migrate, tables
from soap_usestats.ledger.lock import COMPILER
from soap_usestats.timemodel.engine import LogEvent, estimate
from soap_usestats.timemodel.settings import TimeSettings
from soap_usestats.web.app import create_app
from tests.support.databases import fresh_database
from tests.support.ledger import booked_rows, expected_rows
from tests.support.wsgi import TNS, WsgiClient, envelope
from tests.test_ledger import LEDGERS

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

DAY = 86400
#: Midnight (UTC) ten days ago: the learner's days begin there, all of them final.
START = (int(time.time()) // DAY - 10) * DAY
#: The window asked: every day of the log.
WINDOW = (START, START + 7 * DAY)
#: The model's settings (the site sets none).
MODEL = TimeSettings()


#: Where a row of the learner is: (context level, in the course, in the quiz, component,
#: target, module type).
PLACES = {"site": (contexts.SYSTEM, False, False, "core", "user", None),
          "course": (contexts.COURSE, True, False, "core", "course", None),
          "quiz": (contexts.MODULE, True, True, "mod_quiz", "course_module", "quiz")}


@dataclass
class Log:
    """The Moodle log a test writes, as the reference engine reads it."""

    builder: object
    user: int
    course: int
    quiz: int
    events: list[LogEvent] = field(default_factory=list)

    def row(self, time: int, place: str = "course", action: str = "viewed") -> int:
        """A row of the learner at ``place`` (:data:`PLACES`); its id."""
        level, in_course, in_quiz, component, target, module = PLACES[place]
        course, cmid = (self.course if in_course else 0), (self.quiz if in_quiz else 0)
        logid = self.builder.log(self.user, time, action, target, level, course, cmid,
                                 component)
        self.events.append(LogEvent(logid, time, action, target, level, cmid or course, course,
                                    component, module))
        return logid

    def morning(self, t: int) -> None:
        """Logged in at ``t``, the course and its quiz until ``t + 20 min``, a break longer
        than the threshold, the course and the quiz again from ``t + 100 min``."""
        self.row(t, "site", "loggedin")
        self.row(t + 300)
        self.row(t + 1200, "quiz")
        self.row(t + 6000)
        self.row(t + 6600, "quiz")


def _learner(builder) -> Log:
    """Alice, five mornings of a course with a quiz, from :data:`START`."""
    course = builder.course("C5")
    builder.module(course, "quiz", "Quiz one", cmid=31)
    log = Log(builder, builder.user("alice"), course, 31)
    for day in range(5):
        log.morning(START + day * DAY + 9 * 3600)
    return log


# --- the service and its answers -----------------------------------------------------

@dataclass(frozen=True)
class Figures:
    """What GetStats answers (module scope, by day in UTC, with sessions): the total
    seconds and events, the seconds of each day, of each session and of each module."""

    seconds: int
    events: int
    days: dict[str, int]
    sessions: list[tuple[str, str, int]]
    modules: dict[int, int]


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _answered(client: WsgiClient) -> Figures:
    body = envelope(
        "<u:GetStats><u:targetuser>alice</u:targetuser><u:statsscope>module</u:statsscope>"
        f"<u:timefrom>{WINDOW[0]}</u:timefrom><u:timeto>{WINDOW[1]}</u:timeto>"
        "<u:sessions>true</u:sessions><u:daily>true</u:daily><u:timezone>UTC</u:timezone>"
        "</u:GetStats>")
    response = client.post(body)
    assert response.status == 200, response.body[:500]
    stats = response.xml().find(f".//{{{TNS}}}USE_STATS")

    def each(path: str, *names: str) -> list[tuple[str, ...]]:
        """The texts of ``names`` in each element at ``path`` (names split by ``/``)."""
        return [tuple(found.findtext(f"{{{TNS}}}{name}") for name in names)
                for found in stats.iterfind("/".join(f"{{{TNS}}}{step}"
                                                     for step in path.split("/")))]

    [(seconds, events)] = each("USER", "SECONDS", "EVENTS")
    return Figures(
        int(seconds), int(events),
        {day: int(seconds) for day, seconds in each("USER/DAYS/DAY", "DATE", "SECONDS")},
        [(start, end, int(seconds))
         for start, end, seconds in each("SESSIONS/SESSION", "START", "END", "SECONDS")],
        {int(cmid): int(seconds) for cmid, seconds in each("MODULES/MODULE", "ID", "SECONDS")})


def _reference(log: Log) -> Figures:
    """What the reference engine gives over the whole log, now."""
    usage = estimate(sorted(log.events, key=lambda e: (e.time, e.id)), int(time.time()),
                     MODEL, ZoneInfo("UTC"), WINDOW)
    return Figures(usage.total.seconds, usage.total.events,
                   {day.isoformat(): seconds for day, seconds in usage.total.days.items()},
                   [(_iso(s.start), _iso(s.end), s.seconds) for s in usage.sessions],
                   {cmid: tally.seconds for cmid, tally in usage.modules.items()})


@pytest.fixture
def services(builder):
    """Services on the builder's Moodle (``make(ledger_url, ledger_interval)``), each
    with a client holding an administrator's token; their compilers stopped and engines
    disposed after the test."""
    token = builder.admin_token()
    made = []

    def make(ledger_url: str | None, ledger_interval: int = 0):
        app = create_app(Settings(database_url=builder.url, ledger_url=ledger_url,
                                  ledger_interval=ledger_interval))
        made.append(app)
        return app, WsgiClient(app, QUERY_STRING=f"wstoken={token}")

    yield make
    for app in made:
        if app.compiler is not None:
            app.compiler.stop(timeout=10)
            app.compiler.ledger.dispose()
        app.network.home.engine.dispose()
        if app.network.home.ledger is not None:
            app.network.home.ledger.engine.dispose()


@pytest.fixture(params=LEDGERS)
def ledger_url(request, tmp_path):
    url, drop = fresh_database(request.param, tmp_path)
    yield url
    drop()


def _compiled(builder, ledger_url: str) -> None:
    """One pass of the service's compiler (the worker's, as every ``ledger_interval``)."""
    ledger = migrate.ledger_engine(ledger_url)
    try:
        assert BackgroundCompiler(Settings(database_url=builder.url, ledger_url=ledger_url),
                                  ledger, 60).run_once()
    finally:
        ledger.dispose()


def _purged(builder, before: int) -> None:
    """Moodle's purge of the log rows older than ``before`` (``loglifetime``)."""
    log = builder.tables.log
    with builder.engine.begin() as conn:
        conn.execute(delete(log).where(log.c.timecreated < before))


# --- a purge ---------------------------------------------------------------------------

def test_a_purge_of_old_log_rows_leaves_the_figures_the_service_answers(builder, ledger_url,
                                                                        services):
    """Compiled, then the log's first three days purged: the service answers as before,
    the log alone no longer does; the next pass changes nothing."""
    log = _learner(builder)
    _, client = services(ledger_url)
    _, log_alone = services(None)
    _compiled(builder, ledger_url)
    before = _answered(client)
    assert before == _reference(log) == _answered(log_alone)
    _purged(builder, START + 3 * DAY)
    assert _answered(log_alone) != before     # the log no longer holds the first three days
    assert _answered(client) == before
    _compiled(builder, ledger_url)            # the service's next pass changes nothing
    assert _answered(client) == before


# --- a late row ------------------------------------------------------------------------

def test_a_late_row_changes_its_day_and_session_and_nothing_else(builder, ledger_url, services):
    """Compiled, then a row of the third morning's break written (the newest id): once
    compiled, its day grows and its two sessions become one, as the reference engine
    says; every other day and session is as it was; the ledger books the model's rows."""
    log = _learner(builder)
    _, client = services(ledger_url)
    _compiled(builder, ledger_url)
    before = _answered(client)
    assert before == _reference(log)
    morning = START + 2 * DAY + 9 * 3600
    late = log.row(morning + 3600, "quiz")     # in the morning's break
    assert late == max(e.id for e in log.events) and morning + DAY < max(e.time for e in log.events)
    _compiled(builder, ledger_url)
    after = _answered(client)
    assert after == _reference(log)
    day = datetime.fromtimestamp(morning, UTC).date().isoformat()

    def elsewhere(figures: Figures) -> tuple[dict, list]:
        return ({d: s for d, s in figures.days.items() if d != day},
                [s for s in figures.sessions if not s[0].startswith(day)])

    assert elsewhere(after) == elsewhere(before)
    assert after.days[day] > before.days[day]
    assert (len([s for s in before.sessions if s[0].startswith(day)]),
            len([s for s in after.sessions if s[0].startswith(day)])) == (2, 1)  # bridged
    ledger = migrate.ledger_engine(ledger_url)
    now = int(time.time())
    assert booked_rows(ledger) == expected_rows(sorted(log.events, key=lambda e: (e.time, e.id)),
                                                log.user, now, MODEL, now)
    ledger.dispose()


# --- two services, one ledger ----------------------------------------------------------

#: Seconds a pass lasts at least here: long enough for the other service to try meanwhile.
PASS_SECONDS = 0.2


@dataclass(frozen=True)
class Pass:
    thread: int       # the compiler's
    lease: str        # the holder of the lease the pass was given
    holder: str       # who held the ledger's lock as it began
    start: float
    end: float


class Skips(logging.Handler):
    """Counts the passes a service skips, another compiler holding the ledger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "this worker skips its pass" in record.getMessage():
            self.count += 1
            self.seen.set()


@pytest.fixture
def skips():
    logger = logging.getLogger(compiling.__name__)
    handler, level = Skips(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(params=["postgresql", "mariadb"])
def shared_ledger_url(request, tmp_path):
    url, drop = fresh_database(request.param, tmp_path)
    yield url
    drop()


def test_two_services_sharing_a_ledger_compile_one_at_a_time_and_answer_alike(
        builder, shared_ledger_url, services, skips, monkeypatch):
    """Each service's compiler tries every second; the first pass lasts until the other
    service has tried and skipped, every pass at least :data:`PASS_SECONDS`."""
    log = _learner(builder)
    passes: list[Pass] = []
    compile_sites = compiling.compile_sites

    def recorded(settings, ledger, lease, **options):
        start = time.monotonic()
        with ledger.connect() as conn:
            holder = conn.scalar(select(tables.lock.c.holder)
                                 .where(tables.lock.c.name == COMPILER))
        try:
            if not passes:
                assert skips.seen.wait(10)
            time.sleep(PASS_SECONDS)
            return compile_sites(settings, ledger, lease, **options)
        finally:
            passes.append(Pass(threading.get_ident(), lease.holder, holder, start,
                               time.monotonic()))

    monkeypatch.setattr(compiling, "compile_sites", recorded)
    first, one = services(shared_ledger_url, ledger_interval=1)
    second, other = services(shared_ledger_url, ledger_interval=1)
    ledger = migrate.ledger_engine(shared_ledger_url)

    def booked() -> int:
        return len(booked_rows(ledger)) if migrate.revision(ledger) else 0

    _eventually(lambda: booked() == len(log.events))
    log.morning(START + 5 * DAY + 9 * 3600)
    log.row(START + 2 * DAY + 9 * 3600 + 3600)     # late, in a break
    _eventually(lambda: booked() == len(log.events)
                and first.compiler.passes and second.compiler.passes)
    for app in (first, second):
        app.compiler.stop(timeout=10)
    ledger.dispose()

    assert Counter(p.thread for p in passes) == {
        first.compiler._thread.ident: first.compiler.passes,
        second.compiler._thread.ident: second.compiler.passes}
    assert all(p.holder == p.lease for p in passes)
    ordered = sorted(passes, key=lambda p: p.start)
    assert all(earlier.end <= later.start for earlier, later in zip(ordered, ordered[1:]))
    assert skips.count >= 1
    _, log_alone = services(None)
    assert _answered(one) == _answered(other) == _reference(log) == _answered(log_alone)


def _eventually(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)
