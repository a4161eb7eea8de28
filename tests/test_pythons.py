"""Every other supported Python, end to end: a fresh virtualenv installs the package with the
lock (``pip install -c constraints.txt .``, not editable), builds the demo with its own
``soap-usestats demo``, and serves it with its own gunicorn; zeep calls each operation.

The whole suite runs on the Python that runs it; the others are those of setup.cfg's
classifiers, found on ``PATH`` or under pyenv. Where one is absent its tests skip, saying
so; in CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import zeep
from lxml import etree
from packaging.utils import canonicalize_name
from sqlalchemy import create_engine, select
from zeep.helpers import serialize_object

from soap_usestats.demo.site import BASE, COURSES, REFERENCE_COURSE
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.namespaces import TNS
from tests.support import pythons
from tests.support.answers import assert_same_answer
from tests.support.examples import WSDL_FILE
from tests.support.servers import gunicorn

pytestmark = pytest.mark.e2e

OTHERS = [v for v in pythons.supported() if v != "%d.%d" % sys.version_info[:2]]
#: The worked example of the time model, played by the demo's reference learner.
WINDOW = dict(timefrom=BASE, timeto=BASE + 100000)
REFERENCE_COURSE_SHORTNAME = COURSES[REFERENCE_COURSE][1]
#: What the published WSDL sends clients to: the served one must be the same file.
PUBLISHED_URL = etree.parse(WSDL_FILE).find(
    ".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
#: The environment of the commands run in the virtualenv: no path of this one's.
ENVIRONMENT = {name: value for name, value in os.environ.items()
               if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


@dataclass(frozen=True)
class Installed:
    version: str
    venv: Path
    work: Path             # the directory the commands run in: outside the source tree
    database: Path         # the demo site, built by the installed command
    reference: str         # the reference learner's username
    token: str             # the demo manager's web service token

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


def run(*command: object, cwd: Path) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=ENVIRONMENT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{result.stdout}{result.stderr}"
    return result.stdout


def absent(version: str) -> None:
    message = f"Python {version} not found (python{version} on PATH, or under pyenv): not tried"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI requires every supported Python")
    pytest.skip(message)


def copy_of_the_source(destination: Path) -> Path:
    """The working tree's files, tracked or not, less what git ignores: the build's own
    leftovers (build/, *.egg-info) stay out of the source tree and out of the wheel."""
    files = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z",
                cwd=pythons.ROOT)
    for name in filter(None, files.split("\0")):
        if (pythons.ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes((pythons.ROOT / name).read_bytes())
    return destination


def install(version: str, work: Path) -> Installed | None:
    """Python ``version``'s fresh virtualenv with the package and the demo, or None if absent."""
    interpreter = pythons.find(version)
    if interpreter is None:
        return None
    source = copy_of_the_source(work / "source")
    venv = work / "venv"
    run(interpreter, "-m", "venv", venv, cwd=work)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", pythons.CONSTRAINTS, source, cwd=work)
    database = work / "demo.sqlite"
    printed = run(venv / "bin" / "soap-usestats", "demo", "--url", f"sqlite:///{database}", cwd=work)
    return Installed(version, venv, work, database,
                     reference=re.search(r"Reference learner: (\S+)", printed).group(1),
                     token=re.search(r"Manager's web service token: (\w+)", printed).group(1))


@pytest.fixture(scope="module")
def installs(tmp_path_factory):
    """Every other Python's install, made side by side: downloading the wheels takes most of it."""
    with ThreadPoolExecutor() as pool:
        yield {version: pool.submit(install, version, tmp_path_factory.mktemp(f"python{version}"))
               for version in OTHERS}


@pytest.fixture(scope="module", params=OTHERS)
def installed(request, installs) -> Installed:
    found = installs[request.param].result()
    if found is None:
        absent(request.param)
    return found


@pytest.fixture(scope="module")
def served(installed) -> str:
    with gunicorn(f"sqlite:///{installed.database}", python=installed.python, cwd=installed.work,
                  PYTHONPATH="", USESTATS_PUBLIC_URL=PUBLISHED_URL) as soap_url:
        yield soap_url


@pytest.fixture(scope="module")
def service(installed, served):
    """zeep's proxy of the served WSDL, calling the served address with the manager's token."""
    client = zeep.Client(f"{served}?wsdl")
    return client.create_service(f"{{{TNS}}}UseStats", f"{served}?wstoken={installed.token}")


def test_the_lock_is_what_is_installed(installed):
    listed = json.loads(run(installed.python, "-m", "pip", "list", "--format=json", cwd=installed.work))
    pinned = {canonicalize_name(pin.name): str(pin.specifier) for pin in pythons.pins()}
    for package in listed:
        name = canonicalize_name(package["name"])
        if name not in ("pip", "setuptools", "soap-usestats"):
            assert pinned.get(name) == f"=={package['version']}", f"{name} {package['version']} is not locked"
    module = run(installed.python, "-c", "import soap_usestats; print(soap_usestats.__file__)",
                 cwd=installed.work)
    assert Path(module.strip()).is_relative_to(installed.venv), "the package is not the installed one"


def test_serves_the_published_wsdl(served):
    with urllib.request.urlopen(f"{served}?wsdl", timeout=30) as response:
        assert response.read() == WSDL_FILE.read_bytes()


def test_get_stats_gives_the_worked_example(installed, service):
    stats = service.GetStats(targetuser=installed.reference, statsscope="course", **WINDOW)
    assert (stats.USER.SECONDS, stats.USER.ELAPSED) == (2800, 46)
    (course,) = stats.COURSES.COURSE
    assert (course.SHORTNAME, course.SECONDS, course.ELAPSED) == (REFERENCE_COURSE_SHORTNAME, 2740, 45)
    assert (course.ACTIVITYSECONDS, course.COURSESECONDS, course.OTHERSECONDS) == (1500, 1240, 0)
    modules = service.GetStats(targetuser=installed.reference, statsscope="module", **WINDOW).MODULES
    (module,) = modules.MODULE
    assert (module.TYPE, module.SECONDS, module.ELAPSED) == ("quiz", 1500, 25)


def test_get_scores_gives_the_gradebook(installed, service):
    scores = service.GetScores(targetuser=installed.reference, courseidfield="shortname",
                               courseidentifier=REFERENCE_COURSE_SHORTNAME, scorescope="notes/items")
    t = MoodleTables()
    engine = create_engine(f"sqlite:///{installed.database}")
    with engine.connect() as conn:
        grades = conn.execute(
            select(t.grade_items.c.id, t.grade_items.c.itemtype, t.grade_grades.c.finalgrade)
            .join(t.grade_grades, t.grade_grades.c.itemid == t.grade_items.c.id)
            .join(t.user, t.user.c.id == t.grade_grades.c.userid)
            .join(t.course, t.course.c.id == t.grade_items.c.courseid)
            .where(t.user.c.username == installed.reference,
                   t.course.c.shortname == REFERENCE_COURSE_SHORTNAME,
                   t.grade_grades.c.finalgrade.is_not(None))).all()
    engine.dispose()
    assert [scores.SCORE] == [grade.finalgrade for grade in grades if grade.itemtype == "course"]
    assert {item.ID: item.SCORE for item in scores.ITEMS.ITEM if item.SCORE is not None} == {
        grade.id: grade.finalgrade for grade in grades if grade.itemtype != "course"}


def test_get_users_stats_gives_each_users_get_stats(installed, service):
    page = service.GetUsersStats(courseidfield="shortname",
                                 courseidentifier=REFERENCE_COURSE_SHORTNAME, statsscope="course",
                                 **WINDOW)
    assert page.NEXTCURSOR is None
    answered = {stats.USER.USERNAME: serialize_object(stats) for stats in page.USE_STATS}
    assert answered[installed.reference]["USER"]["SECONDS"] == 2800
    for username, stats in answered.items():
        assert_same_answer(stats, serialize_object(service.GetStats(
            targetuser=username, statsscope="course", **WINDOW)))
