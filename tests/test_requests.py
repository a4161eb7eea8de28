"""One request type per operation, built once at the edge and passed on whole: a parameter
added to a request reaches the site through every layer (the edge, the network, another
site read directly, a peer's SOAP arguments)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import SimpleNamespace

import pytest

from soap_usestats.auth.caller import OPERATOR, CallingUser
from soap_usestats.config import Settings
from soap_usestats.domain.requests import ScoresRequest, StatsRequest, UsersStatsRequest
from soap_usestats.domain.results import Person, Stats
from soap_usestats.domain.site import MoodleSite, SiteIdentity
from soap_usestats.federation.network import Direct, Network
from soap_usestats.federation.peer import soap_arguments
from soap_usestats.soap import messages
from soap_usestats.soap.service import request, soap_application
from soap_usestats.timemodel.engine import Tally
from soap_usestats.web.app import create_app
from tests.support.examples import worked_example
from tests.support.moodle import MoodleBuilder
from tests.support.network import B, HOME
from tests.support.wsgi import WsgiClient
from tests.test_strict_input import TOKEN, call

REQUESTS = {"GetStats": StatsRequest, "GetScores": ScoresRequest,
            "GetUsersStats": UsersStatsRequest}
#: A parameter of the edge alone: how the answer is written, not what is asked.
EDGE_ONLY = {"json_response"}
NOW = 200000


@dataclass(frozen=True, kw_only=True)
class Extended(StatsRequest):
    """GetStats with a parameter added in one place: here."""

    weekly: bool = False


def test_each_parameter_of_an_operation_is_a_field_of_its_request():
    for method in soap_application().interface.service_method_map.values():
        descriptor = method[0]
        kind = REQUESTS[descriptor.name]
        assert kind.operation == descriptor.name
        parameters = set(descriptor.in_message._type_info) - EDGE_ONLY
        assert parameters == {f.name for f in fields(kind)}, descriptor.name


def test_the_edge_builds_a_request_by_the_names_of_its_fields():
    decoded = SimpleNamespace(targetuser="alice", weekly=True, daily=None, json_response=True,
                              callinguser=messages.CallingUser(username="mgr",
                                                               remoteuserhostroot=HOME))
    built = request(Extended, SimpleNamespace(in_object=decoded))
    assert built == Extended(targetuser="alice", weekly=True,
                             callinguser=CallingUser("mgr", HOME))
    listed = SimpleNamespace(targetusers=messages.TargetUsers(targetuser=["a", "b"]))
    assert request(UsersStatsRequest, SimpleNamespace(in_object=listed)) == UsersStatsRequest(
        targetusers=("a", "b"))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('requests') / 'moodle.sqlite'}"
    builder = MoodleBuilder(url)
    worked_example(builder)
    builder.admin_token(TOKEN)
    builder.engine.dispose()
    app = create_app(Settings(database_url=url))
    yield WsgiClient(app, QUERY_STRING=f"wstoken={TOKEN}")
    app.network.home.engine.dispose()


@pytest.mark.parametrize("protocol", ["soap11", "soap12", "json"])
def test_the_site_is_asked_the_request_the_client_sent(service, monkeypatch, protocol):
    asked = []
    answer = MoodleSite.get_stats

    def spy(site, one, **context):
        asked.append(one)
        return answer(site, one, **context)

    monkeypatch.setattr(MoodleSite, "get_stats", spy)
    sent = [("callinguser.username", "wsadmin"), ("targetuser", " Alice "),
            ("statsscope", "course"), ("timefrom", "0"), ("timeto", "100000"),
            ("daily", "1"), ("timezone", "UTC"), ("json_response", "true")]
    assert call(service, protocol, "GetStats", sent).status == 200
    assert asked == [StatsRequest(callinguser=CallingUser("wsadmin"), targetuser=" Alice ",
                                  statsscope="course", timefrom=0, timeto=100000, daily=True,
                                  timezone="UTC")]


class Recording:
    """A site that records what it is asked, and answers zeros."""

    def __init__(self, wwwroot: str | None = None) -> None:
        self.wwwroot, self.asked = wwwroot, []

    def get_stats(self, asked, *, now, caller):
        self.asked.append(asked)
        return Stats(Person(1, "lee", "Lee", "Learner", ""), 0, now, "site", Tally(), None, 0)

    def person(self, caller, callinguser, now):
        return CallingUser("twin", HOME, HOME)

    def about(self):
        return SiteIdentity(HOME, "UTC")


@pytest.mark.parametrize("whereroot", [None, B, "*"])
def test_the_network_passes_a_request_on_whole(whereroot):
    home, other = Recording(), Recording(B)
    net = Network(home, {B: Direct(other, 5)}, "https://hub.test/soap")
    sent = Extended(targetuser="lee", whereroot=whereroot, weekly=True, statsscope="module")
    net.get_stats(sent, now=NOW, caller=OPERATOR)
    there = Extended(targetuser="lee", whereroot=B, weekly=True, statsscope="module",
                     callinguser=CallingUser("twin", HOME, HOME))
    expected = {None: ([sent], []), B: ([], [there]),
                "*": ([Extended(targetuser="lee", weekly=True, statsscope="module")], [there])}
    assert (home.asked, other.asked) == expected[whereroot]


def test_a_peer_is_sent_each_field_given_as_a_soap_argument():
    sent = Extended(targetuser="lee", whereroot="https://c.test", weekly=True, timefrom=0,
                    callinguser=CallingUser("mgr", HOME, HOME))
    assert soap_arguments(sent) == {
        "targetuser": "lee", "whereroot": "https://c.test", "weekly": True, "timefrom": 0,
        "callinguser": {"username": "mgr", "remoteuserhostroot": HOME, "remotehostroot": HOME}}
    assert soap_arguments(UsersStatsRequest(targetusers=("a", "b"), daily=True)) == {
        "targetusers": {"targetuser": ["a", "b"]}, "daily": True}
