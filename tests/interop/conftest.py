"""The demo site served by gunicorn once per session, and the engine's own figures for it.

The engine computes a call's figures at the moment the service answered it: the
FINALBEFORE a client read is the time of the request less the lag (the greater of
threshold and lastpingcredit), so each answer says when it was given, and that must be
during the call.

gunicorn writes an access log of the method, query string and SOAPAction header of
every request, so that a test can see what a client really sent.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.schema import DemoTables
from soap_usestats.demo.site import TERM_END, TERM_START, DemoSite, build_demo_site
from soap_usestats.domain.requests import ScoresRequest, StatsRequest, UsersStatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.soap import shaping
from tests.interop import figures
from tests.support.examples import ShapedSite
from tests.support.servers import gunicorn

#: The course whose grades the tests ask for (id 5, the reference learner's).
COURSE = "PM110"
#: How long before the session starts the busy learner views COURSE again: more than the
#: demo's lastpingcredit (15 minutes), so that the visit's time no longer grows, and less
#: than its threshold (60), so that the day of the visit stays open for the session's first
#: 40 minutes at least. The demo's term is long past: every other day of it is final.
VISIT_AGO = 20 * 60
#: The request types of the operations, by name.
REQUESTS = {"GetStats": StatsRequest, "GetUsersStats": UsersStatsRequest,
            "GetScores": ScoresRequest}
NUMBERS = {"timefrom", "timeto", "pagesize"}
BOOLEANS = {"daily", "sessions", "completed"}


@dataclass(frozen=True)
class Learner:
    username: str
    timefrom: int
    timeto: int


def asked(operation: str, params: dict[str, str]):
    """The request of a call with ``params`` (its parameters as a client writes them)."""
    fields = {name: int(value) if name in NUMBERS else
              {"true": True, "false": False}[value] if name in BOOLEANS else value
              for name, value in params.items()}
    return REQUESTS[operation](**fields)


@dataclass(frozen=True)
class Demo:
    url: str
    site: DemoSite
    moodle: MoodleSite
    learners: dict[str, Learner]
    #: How long FINALBEFORE lags the time of a request on the demo site, in seconds.
    lag: int

    def expected(self, operation: str, params: dict[str, str], moments: list[int]) -> dict:
        """The figures the engine computes in-process for one call, seeing everything, at
        the ``moments`` the service answered it (see :meth:`moments`)."""
        if operation == "GetUsersStats":
            return figures.of_pages(self.pages(params, moments))
        if operation == "GetStats":
            (now,) = moments
            return figures.of_stats(self.moodle.get_stats(asked(operation, params), now=now,
                                                          caller=OPERATOR))
        return figures.of_scores(self.moodle.get_scores(asked(operation, params),
                                                        caller=OPERATOR))

    def pages(self, params: dict[str, str], moments: Iterable[int]) -> list:
        """The pages of a GetUsersStats in-process, following the cursor, seeing everything:
        each asked at the next of ``moments``, while there are more."""
        request = asked("GetUsersStats", params)
        pages = []
        for now in moments:
            request = replace(request, cursor=pages[-1].NEXTCURSOR if pages else None)
            pages.append(shaping.users_stats(self.moodle.get_users_stats(
                request, now=now, caller=OPERATOR)))
            if not pages[-1].NEXTCURSOR:
                break
        return pages

    def moments(self, operation: str, params: dict[str, str], got: dict,
                during: tuple[float, float]) -> list[int]:
        """When the service answered what a client read (``got``), from the FINALBEFORE it
        gave: once for GetStats, for each page of GetUsersStats (its first user's), never
        for GetScores. Each must lie ``during`` the call."""
        if operation == "GetStats":
            answers = [got]
        elif operation == "GetUsersStats":
            answers = got["USERS"][::int(params["pagesize"])]
        else:
            return []
        moments = [stats["USER"]["FINALBEFORE"] + self.lag for stats in answers]
        assert all(during[0] <= moment <= during[1] for moment in moments), (during, moments)
        return moments


@dataclass(frozen=True)
class Request:
    """One request as the service's access log recorded it."""

    method: str
    query: str
    soapaction: str


@dataclass(frozen=True)
class Service:
    url: str
    token: str
    access_log: Path

    @property
    def wsdl(self) -> str:
        return f"{self.url}?wsdl"

    @property
    def endpoint(self) -> str:
        """Where clients send their calls: the SOAP URL with the Moodle token."""
        return f"{self.url}?wstoken={self.token}"

    def mark(self) -> int:
        return self.access_log.stat().st_size

    def posts_since(self, mark: int, timeout: float = 5) -> list[Request]:
        """The POST requests logged after ``mark``, waiting up to ``timeout`` for the first."""
        deadline = time.monotonic() + timeout
        while True:
            with self.access_log.open("rb") as log:
                log.seek(mark)
                lines = log.read().decode().splitlines()
            posts = [Request(*line.replace('\\"', '"').split(" ", 2))  # gunicorn writes " as \"
                     for line in lines if line.startswith("POST ")]
            if posts or time.monotonic() > deadline:
                return posts
            time.sleep(0.05)


def _learners(moodle: MoodleSite, demo: DemoSite) -> dict[str, Learner]:
    """The reference learner in the worked example's window; over the term, the reference
    learner again (``record``: their courses complete, in progress and untracked), the
    learner busiest in COURSE, the busiest learner with no grade in it, and the user
    busiest in a course where they have no course total (``gradeless``: a teacher)."""
    ref = demo.reference
    term = dict(timefrom=TERM_START, timeto=TERM_END)
    with moodle.engine.connect() as conn:
        names = conn.scalars(_active_students()).all()
    seconds, in_course, graded = {}, {}, set()
    for name in names:
        stats = moodle.get_stats(StatsRequest(targetuser=name, statsscope="course", **term),
                                 now=TERM_END, caller=OPERATOR)
        seconds[name] = stats.USER.SECONDS
        in_course[name] = sum(c.SECONDS for c in stats.COURSES or [] if c.SHORTNAME == COURSE)
        scores = moodle.get_scores(ScoresRequest(targetuser=name, courseidfield="shortname",
                                                 courseidentifier=COURSE), caller=OPERATOR)
        if scores.SCORE is not None:
            graded.add(name)
    busy = max(graded - {ref.username}, key=in_course.get)
    ungraded = max(set(names) - graded, key=seconds.get)
    assert in_course[busy] and seconds[ungraded], "the demo site has no busy learners"
    return {"reference": Learner(ref.username, ref.timefrom, ref.timeto),
            "record": Learner(ref.username, **term), "busy": Learner(busy, **term),
            "ungraded": Learner(ungraded, **term),
            "gradeless": Learner(_gradeless(moodle), **term)}


def _gradeless(moodle: MoodleSite) -> str:
    """The user with the most time over the term in a course where they have no course total."""
    request = UsersStatsRequest(statsscope="course", timefrom=TERM_START, timeto=TERM_END,
                                pagesize=1000)
    page = shaping.users_stats(moodle.get_users_stats(request, now=TERM_END, caller=OPERATOR))
    assert not page.NEXTCURSOR
    ungraded = [(course.SECONDS, stats.USER.USERNAME) for stats in page.USE_STATS
                for course in stats.COURSES or [] if course.GRADE and not course.GRADE.GRADED]
    assert ungraded, "nobody on the demo site has time in a course without a course total"
    return max(ungraded)[1]


def _active_students():
    """The usernames of the site's own, active users with a student role."""
    t = DemoTables("mdl_")
    return (select(t.user.c.username).distinct()
            .join(t.role_assignments, t.role_assignments.c.userid == t.user.c.id)
            .join(t.role, t.role.c.id == t.role_assignments.c.roleid)
            .where(t.role.c.shortname == "student", t.user.c.deleted == 0, t.user.c.suspended == 0,
                   t.user.c.mnethostid == 1))


def _lag(moodle: MoodleSite, username: str) -> int:
    """How long FINALBEFORE lags the time of a request, as the engine says."""
    stats = moodle.get_stats(StatsRequest(targetuser=username), now=TERM_END, caller=OPERATOR)
    return TERM_END - int(stats.USER.FINALBEFORE.timestamp())


def _view_again(url: str, username: str, when: int) -> None:
    """``username`` views COURSE's page again at ``when``: their latest view of it, copied
    (as the demo's builder writes, not through the service's read-only connection)."""
    t = DemoTables("mdl_")
    log = t.log
    user = select(t.user.c.id).where(t.user.c.username == username).scalar_subquery()
    course = select(t.course.c.id).where(t.course.c.shortname == COURSE).scalar_subquery()
    engine = create_engine(url)
    with engine.begin() as conn:
        view = conn.execute(select(log).where(log.c.userid == user, log.c.courseid == course,
                                              log.c.eventname == "\\core\\event\\course_viewed")
                            .order_by(log.c.timecreated.desc()).limit(1)).mappings().one()
        conn.execute(insert(log).values({name: value for name, value in view.items() if name != "id"}
                                        | {"timecreated": when}))
    engine.dispose()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    """The demo site; its busy learner views COURSE again today, VISIT_AGO ago (``today``:
    their time over the term and up to now)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('interop') / 'moodle.sqlite'}"
    site = build_demo_site(url)
    moodle = ShapedSite(connect(url), MoodleTables("mdl_"))
    learners = _learners(moodle, site)
    now = int(time.time())
    _view_again(url, learners["busy"].username, now - VISIT_AGO)
    learners["today"] = Learner(learners["busy"].username, TERM_START, now)
    yield Demo(url, site, moodle, learners, _lag(moodle, site.reference.username))
    moodle.engine.dispose()


@pytest.fixture(scope="session")
def service(demo, tmp_path_factory) -> Service:
    logs = tmp_path_factory.mktemp("gunicorn")
    access_log = logs / "access.log"
    args = ["--access-logfile", str(access_log), "--access-logformat", "%(m)s %(q)s %({soapaction}i)s",
            "--capture-output", "--error-logfile", str(logs / "error.log")]
    with gunicorn(demo.url, GUNICORN_CMD_ARGS=shlex.join(args)) as url:
        yield Service(url, demo.site.token, access_log)
