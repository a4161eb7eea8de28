"""GetUsersStats end to end: gunicorn serves the demo site, zeep calls it with each kind of
caller; SOAP 1.2 and JSON give the same pages."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
import zeep
from zeep.helpers import serialize_object

from soap_usestats.demo.site import build_demo_site
from tests.support.answers import assert_same_answer
from tests.support.servers import gunicorn
from tests.test_e2e import token_client

pytestmark = pytest.mark.e2e

TEACHER_COURSE = "PM110"       # the demo teacher's course
OTHER_COURSE = "GDPR"
WINDOW = dict(timefrom=0, timeto=1798761600)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('users') / 'moodle.sqlite'}"
    demo = build_demo_site(url, learners=8)
    with gunicorn(url) as soap_url:
        yield soap_url, demo


def client_of(served, who: str, soap_url: str | None = None) -> zeep.Client:
    url, demo = served
    return token_client(soap_url or url, demo.tokens[who])


def fault(call) -> tuple[str, str]:
    with pytest.raises(zeep.exceptions.Fault) as error:
        call()
    return error.value.code.split(".")[-1], error.value.message


def every_page(service, **asked) -> list:
    found, cursor = [], None
    while True:
        page = service.GetUsersStats(cursor=cursor, **asked)
        found.append(page)
        cursor = page.NEXTCURSOR
        if cursor is None:
            return found


def test_the_manager_sees_everyone_page_by_page(served):
    service = client_of(served, "manager").service
    found = every_page(service, statsscope="course", pagesize=3, **WINDOW)
    assert len(found) >= 3
    ids = [s.USER.ID for page in found for s in page.USE_STATS]
    assert ids == sorted(set(ids))
    one = found[1].USE_STATS[0]
    alone = service.GetStats(targetuser=str(one.USER.ID), targetuserfield="id",
                             statsscope="course", **WINDOW)
    assert_same_answer(serialize_object(one, dict), serialize_object(alone, dict))


def test_the_manager_lists_users_and_asks_for_any_course(served):
    service = client_of(served, "manager").service
    listed = service.GetUsersStats(targetusers={"targetuser": ["admin", "ref.learner"]}, **WINDOW)
    assert [s.USER.USERNAME for s in listed.USE_STATS] == ["admin", "ref.learner"]
    assert listed.NEXTCURSOR is None
    course = service.GetUsersStats(courseidfield="shortname", courseidentifier=OTHER_COURSE,
                                   **WINDOW)
    assert course.USE_STATS


def test_the_manager_learns_of_unknown_users_and_courses(served):
    service = client_of(served, "manager").service
    code, message = fault(lambda: service.GetUsersStats(
        targetusers={"targetuser": ["admin", "nobody", "noone"]}, **WINDOW))
    assert code == "UnknownUser" and "'nobody'" in message and "'noone'" in message
    code, _ = fault(lambda: service.GetUsersStats(courseidfield="shortname",
                                                  courseidentifier="NOPE", **WINDOW))
    assert code == "UnknownCourse"


def test_the_teacher_sees_their_course_per_course(served):
    service = client_of(served, "teacher").service
    page = service.GetUsersStats(courseidfield="shortname", courseidentifier=TEACHER_COURSE,
                                 statsscope="course", **WINDOW)
    assert page.USE_STATS
    for stats in page.USE_STATS:
        alone = service.GetStats(targetuser=str(stats.USER.ID), targetuserfield="id",
                                 statsscope="course", **WINDOW)
        assert_same_answer(serialize_object(stats, dict), serialize_object(alone, dict))


@pytest.mark.parametrize("asked", [
    dict(courseidfield="shortname", courseidentifier=OTHER_COURSE, statsscope="course"),
    dict(courseidfield="shortname", courseidentifier="NOPE", statsscope="course"),
    dict(courseidfield="shortname", courseidentifier=TEACHER_COURSE, statsscope="site"),
    dict(statsscope="course"),
    dict(targetusers={"targetuser": ["ref.learner"]}, statsscope="course"),
], ids=["course not taught", "unknown course", "site scope", "everyone", "list"])
def test_the_teacher_is_refused_beyond_their_course(served, asked):
    service = client_of(served, "teacher").service
    assert fault(lambda: service.GetUsersStats(**asked, **WINDOW))[0] == "Forbidden"


@pytest.mark.parametrize("asked", [
    dict(), dict(targetusers={"targetuser": ["ref.learner"]}),
    dict(courseidfield="shortname", courseidentifier=TEACHER_COURSE, statsscope="course"),
], ids=["everyone", "list", "course"])
def test_a_learner_is_refused(served, asked):
    service = client_of(served, "learner").service
    assert fault(lambda: service.GetUsersStats(**asked, **WINDOW))[0] == "Forbidden"


@pytest.mark.parametrize("asked", [dict(pagesize=0), dict(pagesize=1001),
                                   dict(targetusers={"targetuser": ["admin"]},
                                        courseidfield="id", courseidentifier="2"),
                                   dict(cursor="garbled")])
def test_bad_input_is_an_invalid_parameter(served, asked):
    service = client_of(served, "manager").service
    assert fault(lambda: service.GetUsersStats(**asked, **WINDOW))[0] == "InvalidParameter"


def json_pages(served, **params) -> list[dict]:
    url, demo = served
    found, cursor = [], None
    while True:
        query = urllib.parse.urlencode({"wstoken": demo.tokens["manager"], **params,
                                        **({"cursor": cursor} if cursor else {})}, doseq=True)
        with urllib.request.urlopen(f"{url.removesuffix('/soap')}/json/GetUsersStats?{query}",
                                    timeout=20) as response:
            found.append(json.load(response))
        cursor = found[-1].get("NEXTCURSOR")
        if cursor is None:
            return found


def test_soap12_and_json_give_the_same_pages(served):
    asked = dict(statsscope="module", pagesize=4, **WINDOW)
    soap11 = every_page(client_of(served, "manager").service, **asked)
    soap12 = every_page(client_of(served, "manager", served[0] + "12").service, **asked)
    users = [serialize_object(s, dict) for page in soap11 for s in page.USE_STATS]
    assert_same_answer(users, [serialize_object(s, dict)
                               for page in soap12 for s in page.USE_STATS])
    documents = json_pages(served, **asked)
    assert [u["USER"]["ID"] for d in documents for u in d["USE_STATS"]] == [u["USER"]["ID"] for u in users]


def test_json_takes_a_list_of_users_as_repeated_query_parameters(served):
    (document,) = json_pages(served, **{"targetusers.targetuser": ["ref.learner", "admin"]},
                             **WINDOW)
    assert [u["USER"]["USERNAME"] for u in document["USE_STATS"]] == ["admin", "ref.learner"]
    with pytest.raises(urllib.error.HTTPError) as error:
        json_pages(served, pagesize=0)
    assert error.value.code == 400
