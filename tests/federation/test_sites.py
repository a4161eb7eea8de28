"""The pieces of federation on their own: ``[sites]`` in the configuration, wwwroots as the
contract compares them, the forwarding chain, and every site at once in process."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from soap_usestats import wwwroots
from soap_usestats.auth.caller import OPERATOR, Caller
from soap_usestats.config import DirectSite, PeerService, Settings, load_settings
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.domain.results import Person, Stats
from soap_usestats.domain.site import SiteIdentity
from soap_usestats.exceptions import ConfigError, Forbidden, RemoteFailure, UnknownUser
from soap_usestats.federation import chain
from soap_usestats.federation.network import Direct, Network
from soap_usestats.soap import shaping
from soap_usestats.timemodel.engine import Session, Tally
from tests.support.network import B, HOME, WINDOW, build_site

NOW = 2_000_000

DIRECT = '[sites."https://B.example.com/"]\ndatabase_url = "sqlite:///b.sqlite"\n'
PEER = ('[sites."https://c.example.com/moodle"]\npeer_url = "https://stats-c.example.com/soap"\n'
        'peer_username = "hub"\n')


def settings_of(tmp_path, text: str) -> Settings:
    path = tmp_path / "usestats.toml"
    path.write_text(text)
    return load_settings({"USESTATS_CONFIG": str(path)})


def test_sites_read_directly_and_through_peers(tmp_path):
    secret = tmp_path / "peer-c.secret"
    secret.write_text("s3cret\n")
    sites = settings_of(tmp_path, DIRECT + PEER + f'peer_password_file = "{secret}"\ntimeout = 2.5\n'
                        ).sites
    assert sites == {
        "https://b.example.com": DirectSite("https://b.example.com", "sqlite:///b.sqlite"),
        "https://c.example.com/moodle": PeerService("https://c.example.com/moodle",
                                                    "https://stats-c.example.com/soap", "hub",
                                                    "s3cret", 2.5)}
    assert "s3cret" not in repr(sites)
    assert sites["https://c.example.com/moodle"].max_answer_bytes == 16 * 1024 * 1024


def test_a_peers_answer_bound_is_its_own(tmp_path):
    site = settings_of(tmp_path, PEER + 'peer_password = "x"\nmax_answer_bytes = 1000000\n').sites
    assert site["https://c.example.com/moodle"].max_answer_bytes == 1_000_000


@pytest.mark.parametrize("text, message", [
    ('[sites."moodle-b"]\ndatabase_url = "sqlite://"\n', "a site is named by its wwwroot"),
    (DIRECT + DIRECT.replace("https://B.example.com/", "https://b.example.com"),
     "the same site as 'https://b.example.com'"),
    ('[sites."https://b.test"]\ntimeout = 3\n', "give either database_url"),
    (DIRECT + 'peer_url = "https://x/soap"\n', "give either database_url"),
    (DIRECT + 'peer_username = "hub"\n', r"unknown settings: sites\.'https://B\.example\.com/'\.peer_username"),
    (DIRECT + "timeout = 0\n", "timeout must be a number of seconds"),
    (PEER, "give either peer_password or peer_password_file"),
    (PEER.replace('peer_username = "hub"\n', 'peer_password = "x"\n'), "peer_username is missing"),
    (PEER.replace("https://stats-c.example.com/soap", "stats-c"), "peer_url must be the http"),
    (PEER + 'peer_password_file = "/nonexistent/peer"\n', "cannot read .*peer_password_file"),
    (PEER + 'peer_password = "x"\nmax_answer_bytes = 0\n', "max_answer_bytes must be a number"),
    (PEER + 'peer_password = "x"\nmax_answer_bytes = "1M"\n', "max_answer_bytes must be a number"),
    (DIRECT + "max_answer_bytes = 1000\n", "unknown settings: .*max_answer_bytes"),
])
def test_bad_sites_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        settings_of(tmp_path, text)


@pytest.mark.parametrize("one, other, same", [
    ("https://Moodle.Example.com/", "https://moodle.example.com", True),
    ("HTTPS://moodle.example.com/lms/", "https://moodle.example.com/lms", True),
    ("https://moodle.example.com/LMS", "https://moodle.example.com/lms", False),
    ("http://moodle.example.com", "https://moodle.example.com", False),
])
def test_wwwroots_compare_in_scheme_and_host_only(one, other, same):
    assert wwwroots.same(one, other) is same


def test_the_chain_refuses_a_loop_and_a_long_chain():
    me = "https://hub.example.com/soap"
    chain.refuse_loop(chain.parse("https://a/soap, https://b/soap"), me)
    assert chain.forwarded(("https://a/soap",), me) == f"https://a/soap, {me}"
    for received in ("https://a/soap, HTTPS://HUB.Example.com/soap/", ", ".join(f"https://{n}/soap" for n in "abcde")):
        with pytest.raises(RemoteFailure, match="forwarding loop"):
            chain.refuse_loop(chain.parse(received), me)


@pytest.fixture
def network(tmp_path):
    home = build_site(f"sqlite:///{tmp_path / 'home.sqlite'}", HOME, None, 0)
    other = build_site(f"sqlite:///{tmp_path / 'b.sqlite'}", B, HOME, 1)
    settings = Settings(database_url=home.url, public_url="https://hub.example.com/soap",
                        sites={B: DirectSite(B, other.url)})
    yield Network.from_settings(settings), home
    for site in (home, other):
        site.builder.engine.dispose()


def caller(home, who: str) -> Caller:
    return Caller(label=who, token=home.tokens[who], address="127.0.0.1")


def test_every_site_at_once_books_each_day_once_in_one_zone(network):
    net, home = network
    asked = dict(targetuser="lee", statsscope="course", daily=True, **WINDOW)
    summed = net.get_stats(StatsRequest(whereroot="*", **asked), now=NOW,
                           caller=caller(home, "mgr"))
    alone = [net.get_stats(StatsRequest(whereroot=where, **asked), now=NOW,
                           caller=caller(home, "mgr"))
             for where in (None, B)]
    days = {}
    for stats in alone:
        for day, seconds in stats.total.days.items():
            days[day] = days.get(day, 0) + seconds
    assert summed.total.days == days
    assert summed.total.seconds == sum(s.total.seconds for s in alone) == sum(days.values())
    assert summed.final_before == min(s.final_before for s in alone) == NOW - 3600
    assert summed.final_days == set(days)  # days of 1970, final everywhere
    assert [site.wwwroot for site in summed.sites] == [HOME, B]
    assert summed.site_course is None and summed.model is None
    shaped = shaping.use_stats(summed)
    assert [s.SITECOURSE for s in shaped.SITES] == [None, None]  # lee never opened a front page
    assert shaped.USER.ELAPSED == summed.total.seconds // 60


def test_the_operator_sees_every_site_whole_and_a_user_nowhere_is_unknown(network):
    net, _ = network
    summed = net.get_stats(StatsRequest(targetuser="lee", whereroot="*", **WINDOW), now=NOW,
                           caller=OPERATOR)
    assert len(summed.sites) == 2
    with pytest.raises(UnknownUser):
        net.get_stats(StatsRequest(targetuser="nobody", whereroot="*", **WINDOW), now=NOW,
                      caller=OPERATOR)


def test_no_twin_means_no_rights_even_at_every_site(network):
    net, home = network
    """cat may see her own figures at home; on B only a local manager shares her username."""
    assert net.get_stats(StatsRequest(targetuser="cat", **WINDOW), now=NOW,
                         caller=caller(home, "cat"))
    with pytest.raises(Forbidden, match="https://b.test: callinguser 'cat' has no MNET account"):
        net.get_stats(StatsRequest(targetuser="cat", whereroot="*", **WINDOW), now=NOW,
                      caller=caller(home, "cat"))


class Answering:
    """A site that answers GetStats with ``stats``, its sessions listed when asked."""

    def __init__(self, stats: Stats, wwwroot: str | None = None) -> None:
        self.stats, self.wwwroot = stats, wwwroot

    def get_stats(self, request, *, now, caller) -> Stats:
        return self.stats if request.sessions else replace(self.stats, sessions=None)

    def person(self, caller, callinguser, now):
        return None

    def about(self) -> SiteIdentity:
        return SiteIdentity(HOME, "UTC")


def lee(days: dict[date, int], final: set[date], before: int, sessions: list[Session]) -> Stats:
    return Stats(Person(1, "lee", "Lee", "Learner", ""), 0, NOW, "site",
                 Tally(sum(days.values()), len(days), days=days), sessions, len(sessions),
                 zone="UTC", final_before=before, final_days=frozenset(final))


@pytest.mark.parametrize("sessions", [False, True])
def test_every_site_at_once_is_final_as_far_as_each_site_is(sessions):
    """A day is final where every site that has it says so; FINALBEFORE is the earliest."""
    second, third, fourth = date(1970, 1, 2), date(1970, 1, 3), date(1970, 1, 4)
    home = Answering(lee({second: 60, third: 60}, {second, third}, 300_000,
                         [Session(100_000, 100_060, 60), Session(200_000, 200_060, 60)]))
    other = Answering(lee({third: 30, fourth: 30}, set(), 250_000,
                          [Session(190_000, 190_060, 60)]), B)
    net = Network(home, {B: Direct(other, 5)}, "https://hub.test/soap")
    summed = net.get_stats(StatsRequest(targetuser="lee", whereroot="*", daily=True,
                                        timezone="UTC", sessions=sessions),
                           now=NOW, caller=OPERATOR)
    assert (summed.final_before, summed.final_days) == (250_000, {second})
    assert summed.session_count == 3
    assert summed.sessions == ([Session(100_000, 100_060, 60), Session(190_000, 190_060, 60),
                                Session(200_000, 200_060, 60)] if sessions else None)
    shaped = shaping.use_stats(summed)
    assert [(day.DATE, day.FINAL) for day in shaped.USER.DAYS] == [
        (second, True), (third, False), (fourth, False)]
    assert shaped.USER.FINALBEFORE == datetime.fromtimestamp(250_000, UTC)
    assert [site.FINALBEFORE for site in shaped.SITES] == [
        datetime.fromtimestamp(300_000, UTC), datetime.fromtimestamp(250_000, UTC)]
    assert shaped.USER.SESSIONCOUNT == 3
    assert (shaped.SESSIONS is not None) is sessions
