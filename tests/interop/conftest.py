"""The demo site served by gunicorn once per session, and the engine's own figures for it.

gunicorn writes an access log of the method, query string and SOAPAction header of
every request, so that a test can see what a client really sent.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

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


@dataclass(frozen=True)
class Learner:
    username: str
    timefrom: int
    timeto: int


@dataclass(frozen=True)
class Demo:
    url: str
    site: DemoSite
    moodle: MoodleSite
    learners: dict[str, Learner]

    def expected(self, operation: str, params: dict[str, str]) -> dict:
        """The figures the engine computes in-process for one call, seeing everything."""
        if operation == "GetUsersStats":
            return figures.of_pages(self.pages(params))
        if operation == "GetStats":
            stats = self.moodle.get_stats(StatsRequest(targetuser=params["targetuser"],
                                                       statsscope=params["statsscope"],
                                                       timefrom=int(params["timefrom"]),
                                                       timeto=int(params["timeto"])),
                                          now=int(time.time()), caller=OPERATOR)
            return figures.of_stats(stats)
        return figures.of_scores(self.moodle.get_scores(
            ScoresRequest(targetuser=params["targetuser"], scorescope=params["scorescope"],
                          courseidfield=params["courseidfield"],
                          courseidentifier=params["courseidentifier"]), caller=OPERATOR))


    def pages(self, params: dict[str, str]) -> list:
        """Every page of a GetUsersStats in-process, following the cursor, seeing everything."""
        asked = dict(statsscope=params["statsscope"], timefrom=int(params["timefrom"]),
                     timeto=int(params["timeto"]), pagesize=int(params["pagesize"]))
        pages = []
        while not pages or pages[-1].NEXTCURSOR:
            cursor = pages[-1].NEXTCURSOR if pages else None
            pages.append(shaping.users_stats(self.moodle.get_users_stats(
                UsersStatsRequest(**asked, cursor=cursor), now=int(time.time()), caller=OPERATOR)))
        return pages


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
    """The reference learner in the worked example's window; over the term, the learner
    busiest in COURSE and the busiest learner with no grade in it."""
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
            "busy": Learner(busy, **term), "ungraded": Learner(ungraded, **term)}


def _active_students():
    """The usernames of the site's own, active users with a student role."""
    t = DemoTables("mdl_")
    return (select(t.user.c.username).distinct()
            .join(t.role_assignments, t.role_assignments.c.userid == t.user.c.id)
            .join(t.role, t.role.c.id == t.role_assignments.c.roleid)
            .where(t.role.c.shortname == "student", t.user.c.deleted == 0, t.user.c.suspended == 0,
                   t.user.c.mnethostid == 1))


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    url = f"sqlite:///{tmp_path_factory.mktemp('interop') / 'moodle.sqlite'}"
    site = build_demo_site(url)
    moodle = ShapedSite(connect(url), MoodleTables("mdl_"))
    yield Demo(url, site, moodle, _learners(moodle, site))
    moodle.engine.dispose()


@pytest.fixture(scope="session")
def service(demo, tmp_path_factory) -> Service:
    logs = tmp_path_factory.mktemp("gunicorn")
    access_log = logs / "access.log"
    args = ["--access-logfile", str(access_log), "--access-logformat", "%(m)s %(q)s %({soapaction}i)s",
            "--capture-output", "--error-logfile", str(logs / "error.log")]
    with gunicorn(demo.url, GUNICORN_CMD_ARGS=shlex.join(args)) as url:
        yield Service(url, demo.site.token, access_log)
