"""Users and courses are found the same way on every database, whatever its collation.

The value asked is trimmed, then compared with the stored value: idnumbers and course
shortnames and idnumbers byte for byte, usernames in lower case, emails without regard
to case and nothing else folded, ids as numbers. MariaDB's ``utf8mb4_unicode_ci`` (the
collation Moodle installs, and the tests' databases') ignores case, accents and trailing
spaces: these users and courses differ only in those. GetStats, GetScores and
GetUsersStats' list must agree.
"""

from __future__ import annotations

import pytest

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain.requests import ScoresRequest, StatsRequest, UsersStatsRequest
from soap_usestats.exceptions import UnknownCourse, UnknownUser
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from tests.support.databases import BACKENDS, fresh_database
from tests.support.examples import NOW, WINDOW, ShapedSite
from tests.support.moodle import MoodleBuilder

#: username -> (idnumber, email)
USERS = {
    "emp1": ("EMP0001", "emp1@example.com"),
    "emp1lower": ("emp0001", "emp1lower@example.com"),
    "emp3": ("EMP0003", "Learner3@Example.COM"),
    "emp4accent": ("ÉMP0004", "léarner4@example.com"),
    "emp4": ("EMP0004", "learner4@example.com"),
    "emp6space": ("EMP0006 ", "emp6space@example.com"),
    "emp6": ("EMP0006", "emp6@example.com"),
    "twin": ("T1", "twin@example.com"),
    "twinupper": ("T2", "TWIN@example.com"),
    "learner9": ("", "learner9@example.com"),
}
AMBIGUOUS = "ambiguous"

#: (field, value asked) -> the username found, None when no user has it, or AMBIGUOUS.
LOOKUPS = {
    ("idnumber", "EMP0001"): "emp1",
    ("idnumber", "emp0001"): "emp1lower",
    ("idnumber", "Emp0001"): None,
    ("idnumber", "EMP0003"): "emp3",
    ("idnumber", "  EMP0003\t"): "emp3",
    ("idnumber", "emp0003"): None,
    ("idnumber", "ÉMP0003"): None,
    ("idnumber", "ÉMP0004"): "emp4accent",
    ("idnumber", "EMP0004"): "emp4",
    ("idnumber", "EMP0006"): "emp6",
    ("idnumber", "EMP0006 "): "emp6",
    ("username", "learner9"): "learner9",
    ("username", "LEARNER9"): "learner9",
    ("username", " learner9 "): "learner9",
    ("username", "léarner9"): None,
    ("email", "learner3@example.com"): "emp3",
    ("email", "LEARNER3@EXAMPLE.COM"): "emp3",
    ("email", " Learner3@Example.COM "): "emp3",
    ("email", "léarner3@example.com"): None,
    ("email", "LÉARNER4@EXAMPLE.COM"): "emp4accent",
    ("email", "learner4@example.com"): "emp4",
    ("email", "twin@example.com"): AMBIGUOUS,
}

#: (field, value asked) -> the course's shortname found, or None.
COURSE_LOOKUPS = {
    ("shortname", "ALG101"): "ALG101",
    ("shortname", " ALG101 "): "ALG101",
    ("shortname", "alg101"): None,
    ("shortname", "GEO"): "GEO",
    ("shortname", "GÉO"): "GÉO",
    ("shortname", "GÉO "): "GÉO",
    ("shortname", "géo"): None,
    ("idnumber", "CRS-A"): "ALG101",
    ("idnumber", "crs-a"): None,
    ("idnumber", "CRS-B"): None,
    ("idnumber", "CRS-B "): None,
}


@pytest.fixture(scope="module", params=BACKENDS)
def lookups(request, tmp_path_factory):
    """The site on each backend, built once: the tests only read it."""
    url, drop = fresh_database(request.param, tmp_path_factory.mktemp(request.param))
    builder = MoodleBuilder(url)
    ids = {name: builder.user(name, idnumber=idnumber, email=email)
           for name, (idnumber, email) in USERS.items()}
    builder.course("ALG101", idnumber="CRS-A")
    builder.course("GEO")
    builder.course("GÉO")
    builder.course("HIS", idnumber="CRS-B ")
    builder.engine.dispose()
    site = ShapedSite(connect(url), MoodleTables())
    yield site, ids
    site.engine.dispose()
    drop()


def _found(call):
    """The username an operation found, None for an unknown user, AMBIGUOUS for many."""
    try:
        return call().USER.USERNAME
    except UnknownUser as error:
        return AMBIGUOUS if "more than one" in str(error) else None


@pytest.mark.parametrize(("field", "value"), LOOKUPS)
def test_get_stats_finds_users_exactly(lookups, field, value):
    site, _ = lookups
    assert _found(lambda: site.get_stats(StatsRequest(targetuser=value, targetuserfield=field,
                                                      **WINDOW), now=NOW,
                                         caller=OPERATOR)) == LOOKUPS[field, value]


@pytest.mark.parametrize(("field", "value"), LOOKUPS)
def test_get_scores_finds_users_exactly(lookups, field, value):
    site, _ = lookups
    assert _found(lambda: site.get_scores(ScoresRequest(targetuser=value, targetuserfield=field,
                                                        courseidfield="shortname",
                                                        courseidentifier="ALG101"),
                                          caller=OPERATOR)) == LOOKUPS[field, value]


@pytest.mark.parametrize(("field", "value"), LOOKUPS)
def test_get_users_stats_lists_users_as_get_stats_finds_them(lookups, field, value):
    site, _ = lookups
    expected = LOOKUPS[field, value]
    named = repr(value.strip().lower() if field == "username" else value.strip())
    if expected is None or expected == AMBIGUOUS:
        with pytest.raises(UnknownUser) as raised:
            site.get_users_stats(UsersStatsRequest(targetusers=[value], targetuserfield=field,
                                                   **WINDOW), now=NOW, caller=OPERATOR)
        start = "no user has" if expected is None else "more than one user has"
        assert str(raised.value).startswith(f"{start} {field} {named}")
    else:
        page = site.get_users_stats(UsersStatsRequest(targetusers=[value], targetuserfield=field,
                                                      **WINDOW), now=NOW, caller=OPERATOR)
        assert [stats.user.username for stats in page.stats] == [expected]


def test_get_users_stats_lists_only_the_users_asked_for(lookups):
    site, ids = lookups
    page = site.get_users_stats(UsersStatsRequest(targetusers=["EMP0001", "EMP0004", "EMP0006"],
                                                  targetuserfield="idnumber", **WINDOW), now=NOW,
                                caller=OPERATOR)
    assert [stats.user.id for stats in page.stats] == sorted(
        ids[name] for name in ("emp1", "emp4", "emp6"))
    with pytest.raises(UnknownUser) as raised:
        site.get_users_stats(UsersStatsRequest(
            targetusers=["EMP0001", "emp0003", "twin@example.com"], targetuserfield="idnumber",
            **WINDOW), now=NOW, caller=OPERATOR)
    assert str(raised.value) == "no user has idnumber 'emp0003', 'twin@example.com'"
    with pytest.raises(UnknownUser) as raised:
        site.get_users_stats(UsersStatsRequest(
            targetusers=["learner4@example.com", "TWIN@EXAMPLE.COM"], targetuserfield="email",
            **WINDOW), now=NOW, caller=OPERATOR)
    assert str(raised.value) == ("more than one user has email 'TWIN@EXAMPLE.COM'; "
                                 "ask by another field")


@pytest.mark.parametrize(("field", "value"), COURSE_LOOKUPS)
def test_get_scores_finds_courses_exactly(lookups, field, value):
    site, _ = lookups
    try:
        found = site.get_scores(ScoresRequest(targetuser="emp1", courseidfield=field,
                                              courseidentifier=value),
                                caller=OPERATOR).COURSE.SHORTNAME
    except UnknownCourse:
        found = None
    assert found == COURSE_LOOKUPS[field, value]


@pytest.mark.parametrize(("field", "value"), COURSE_LOOKUPS)
def test_a_course_population_finds_its_course_exactly(lookups, field, value):
    site, _ = lookups
    try:
        site.get_users_stats(UsersStatsRequest(courseidfield=field, courseidentifier=value,
                                               **WINDOW), now=NOW, caller=OPERATOR)
        found = True
    except UnknownCourse:
        found = False
    assert found == (COURSE_LOOKUPS[field, value] is not None)
