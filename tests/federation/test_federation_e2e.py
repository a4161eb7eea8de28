"""Federation end to end, on loopback: a hub service in front of its own site (SQLite), a
site it reads directly (PostgreSQL) and a site it asks through that site's own service
(MariaDB); hubs with a dead and a hanging peer, and two hubs forwarding to each other;
a hub whose peers misbehave on purpose (``tests.support.hostile``).

The figures through every path equal those of the site's own service, to the second.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, closing

import pytest
import requests
import zeep
from zeep.helpers import serialize_object

from soap_usestats.auth.clients import new_client, new_secret_key
from soap_usestats.checks import check
from soap_usestats.config import load_settings
from tests.support.answers import assert_same_answer
from tests.support.databases import fresh_database
from tests.support.hostile import EMPTY_SCHEMA, MIB, HostilePeer, Witness, edited, importing
from tests.support.network import B, C, HOME, WINDOW, build_site
from tests.support.processes import gunicorn_worker, peak_growth
from tests.support.servers import free_port, gunicorn

pytestmark = pytest.mark.e2e

TIMEOUT = 2  # seconds a faulty peer is given


def _clients(key: str) -> tuple[str, str]:
    """The ``[clients.hub]`` table of a peer, trusted to assert callinguser, and its password."""
    hub, password = new_client(key, "hub", trusted=True)
    return (f'[clients.hub]\nsalt = "{hub.salt}"\npassword_hash = "{hub.password_hash}"\n'
            "trusted = true\n"), password


def _peer(wwwroot: str, url: str, password: str, timeout: float = 10) -> str:
    return (f'[sites."{wwwroot}"]\npeer_url = "{url}"\npeer_username = "hub"\n'
            f'peer_password = "{password}"\ntimeout = {timeout}\n')


def _served(stack: ExitStack, url: str, folder, name: str, config: str = "", key: str = "",
            gunicorn_config: str | None = None) -> str:
    path = folder / f"{name}.toml"
    path.write_text(config)
    env = {"USESTATS_CONFIG": str(path)} | ({"USESTATS_SECRET_KEY": key} if key else {})
    return stack.enter_context(gunicorn(url, config=gunicorn_config, **env))


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    folder = tmp_path_factory.mktemp("network")
    with ExitStack() as stack:
        urls = {}
        for wwwroot, backend in ((B, "postgresql"), (C, "mariadb")):
            urls[wwwroot], drop = fresh_database(backend, folder)
            stack.callback(drop)
        home = build_site(f"sqlite:///{folder / 'home.sqlite'}", HOME, None, 0)
        sites = {HOME: home, B: build_site(urls[B], B, HOME, 1), C: build_site(urls[C], C, HOME, 2)}
        for site in sites.values():
            site.builder.engine.dispose()
        key = new_secret_key()
        clients, password = _clients(key)
        own = {B: _served(stack, urls[B], folder, "own-b"),
               C: _served(stack, urls[C], folder, "peer-c", clients, key)}
        hub = _served(stack, home.url, folder, "hub", (
            f'[sites."{B}"]\ndatabase_url = "{urls[B]}"\n' + _peer(C, own[C], password)))
        yield {"sites": sites, "own": own, "hub": hub, "home": home, "key": key,
               "clients": clients, "password": password, "folder": folder, "stack": stack}


def client(url: str, token: str | None = None, timeout: float = 30) -> zeep.Client:
    result = zeep.Client(f"{url}?wsdl", transport=zeep.Transport(operation_timeout=timeout))
    if token is not None:
        result.service._binding_options["address"] = f"{url}?wstoken={token}"
    return result


def hub_as(network, who: str):
    return client(network["hub"], network["home"].tokens[who]).service


def own_service(network, wwwroot: str):
    """The site's own service, asked by that site's administrator."""
    return client(network["own"][wwwroot], network["sites"][wwwroot].tokens["admin"]).service


def plain(answer) -> dict:
    return serialize_object(answer, dict)


def fault(call) -> zeep.exceptions.Fault:
    with pytest.raises(zeep.exceptions.Fault) as raised:
        call()
    return raised.value


@pytest.mark.parametrize("wwwroot", [B, C], ids=["read directly", "through its peer"])
@pytest.mark.parametrize("scope", ["site", "course", "module"])
def test_figures_through_the_hub_are_the_sites_own(network, wwwroot, scope):
    asked = dict(targetuser="lee", statsscope=scope, daily=True, timezone="Europe/Paris",
                 sessions=True, **WINDOW)
    through = hub_as(network, "mgr").GetStats(whereroot=wwwroot, **asked)
    assert through.USER.SECONDS > 0
    assert_same_answer(plain(through), plain(own_service(network, wwwroot).GetStats(**asked)))
    # the window is in 1970: every day is over, and the sessions were asked for
    assert through.USER.FINALBEFORE is not None and through.SESSIONS.SESSION
    courses = through.COURSES.COURSE if through.COURSES else []
    days = through.USER.DAYS.DAY + [day for course in courses for day in course.DAYS.DAY]
    assert days and all(day.FINAL for day in days)
    if scope == "course":   # each course's learning record comes through too
        assert [(c.COMPLETION.STATUS, c.GRADE.GRADED) for c in courses] == [
            ("complete", True), ("inprogress", True)]


@pytest.mark.parametrize("wwwroot", [B, C], ids=["read directly", "through its peer"])
def test_a_completed_population_comes_through_the_hub(network, wwwroot):
    asked = dict(completed=True, statsscope="course", **WINDOW)
    through = hub_as(network, "mgr").GetUsersStats(whereroot=wwwroot, **asked)
    assert [one.USER.USERNAME for one in through.USE_STATS] == ["lee"]
    own = own_service(network, wwwroot).GetUsersStats(**asked)
    assert_same_answer(plain(through), plain(own))
    before = hub_as(network, "mgr").GetUsersStats(whereroot=wwwroot, completed=True,
                                                  timefrom=0, timeto=100_000)
    assert before is None or before.USE_STATS == []   # zeep reads an empty page as None


@pytest.mark.parametrize("wwwroot", [B, C], ids=["read directly", "through its peer"])
def test_sessions_come_through_the_hub_only_when_asked(network, wwwroot):
    hub = hub_as(network, "mgr")
    through = hub.GetStats(whereroot=wwwroot, targetuser="lee", **WINDOW)
    own = own_service(network, wwwroot).GetStats(targetuser="lee", **WINDOW)
    assert through.SESSIONS is None
    assert through.USER.SESSIONCOUNT == own.USER.SESSIONCOUNT > 0
    (one,) = hub.GetUsersStats(whereroot=wwwroot, sessions=True, **WINDOW).USE_STATS
    assert len(one.SESSIONS.SESSION) == one.USER.SESSIONCOUNT == own.USER.SESSIONCOUNT


@pytest.mark.parametrize("wwwroot", [B, C], ids=["read directly", "through its peer"])
def test_scores_and_pages_through_the_hub_are_the_sites_own(network, wwwroot):
    hub, own = hub_as(network, "mgr"), own_service(network, wwwroot)
    for course in ("ALG", "BIO1" if wwwroot == B else "BIO2"):
        asked = dict(targetuser="lee", courseidfield="shortname", courseidentifier=course,
                     scorescope="notes/items")
        through = hub.GetScores(whereroot=wwwroot, **asked)
        assert through.SCORE is not None
        assert plain(through) == plain(own.GetScores(**asked))
    pages = {"hub": [], "own": []}
    for name, service, where in (("hub", hub, {"whereroot": wwwroot}), ("own", own, {})):
        cursor = None
        while True:
            page = service.GetUsersStats(pagesize=1, cursor=cursor, statsscope="course",
                                         **where, **WINDOW)
            pages[name].append([plain(one) for one in page.USE_STATS])
            if (cursor := page.NEXTCURSOR) is None:
                break
    assert_same_answer(pages["hub"], pages["own"])
    assert [p[0]["USER"]["USERNAME"] for p in pages["hub"]] == ["lee"]


def test_the_home_site_answers_to_its_own_wwwroot_and_to_none(network):
    hub = hub_as(network, "mgr")
    asked = dict(targetuser="lee", statsscope="course", **WINDOW)
    assert_same_answer(plain(hub.GetStats(whereroot=HOME + "/", **asked)),
                       plain(hub.GetStats(**asked)))
    assert_same_answer(plain(hub.GetStats(whereroot="HTTPS://B.TEST/", **asked)),
                       plain(hub.GetStats(whereroot=B, **asked)))


def test_every_site_at_once_sums_the_sites_own_figures(network):
    asked = dict(targetuser="lee", statsscope="course", **WINDOW)
    everywhere = hub_as(network, "mgr").GetStats(whereroot="*", **asked)
    own = {HOME: hub_as(network, "mgr").GetStats(**asked),
           B: own_service(network, B).GetStats(**asked),
           C: own_service(network, C).GetStats(**asked)}
    seconds = sum(answer.USER.SECONDS for answer in own.values())
    assert everywhere.USER.SECONDS == seconds
    assert everywhere.USER.ELAPSED == seconds // 60
    assert everywhere.USER.EVENTS == sum(answer.USER.EVENTS for answer in own.values())
    assert [(s.WWWROOT, s.SECONDS, s.ELAPSED) for s in everywhere.SITES.SITE] == [
        (wwwroot, answer.USER.SECONDS, answer.USER.ELAPSED) for wwwroot, answer in own.items()]
    found = sorted((course.SITE, course.SHORTNAME, course.SECONDS, course.COMPLETION.STATUS,
                    course.GRADE.SCORE) for course in everywhere.COURSES.COURSE)
    assert found == sorted((wwwroot, course.SHORTNAME, course.SECONDS, course.COMPLETION.STATUS,
                            course.GRADE.SCORE)
                           for wwwroot, answer in own.items() for course in answer.COURSES.COURSE)
    assert everywhere.USER.FINALBEFORE == min(s.FINALBEFORE for s in everywhere.SITES.SITE)
    assert_same_answer([{"FINALBEFORE": s.FINALBEFORE} for s in everywhere.SITES.SITE],
                       [{"FINALBEFORE": a.USER.FINALBEFORE} for a in own.values()])
    modules = hub_as(network, "mgr").GetStats(whereroot="*", targetuser="lee",
                                               statsscope="module", **WINDOW)
    assert {m.SITE for m in modules.MODULES.MODULE} == {HOME, B, C}


def test_every_site_at_once_passes_over_sites_without_the_user(network):
    answer = hub_as(network, "mgr").GetStats(whereroot="*", targetuser="mgr", **WINDOW)
    assert [s.WWWROOT for s in answer.SITES.SITE] == [HOME]
    error = fault(lambda: hub_as(network, "mgr").GetStats(whereroot="*", targetuser="nobody",
                                                          **WINDOW))
    assert error.code.endswith("Client.UnknownUser")


@pytest.mark.parametrize("wwwroot", [B, C], ids=["read directly", "through its peer"])
def test_a_caller_is_its_mnet_twin_on_the_other_site(network, wwwroot):
    """cat has no twin there: the local manager who shares her username is not her."""
    error = fault(lambda: hub_as(network, "cat").GetStats(whereroot=wwwroot, targetuser="lee",
                                                          **WINDOW))
    assert error.code.endswith("Client.Forbidden")
    assert "MNET" in error.message
    error = fault(lambda: hub_as(network, "ann").GetStats(whereroot=wwwroot, targetuser="lee",
                                                          **WINDOW))
    assert error.code.endswith("Client.Forbidden")
    assert hub_as(network, "mgr").GetStats(whereroot=wwwroot, targetuser="lee", **WINDOW)


def test_a_trusted_client_asserts_its_callinguser_on_the_peer(network):
    session = requests.Session()
    session.auth = ("hub", network["password"])
    peer = zeep.Client(f"{network['own'][C]}?wsdl", transport=zeep.Transport(session=session))
    home_manager = {"username": "mgr", "remoteuserhostroot": HOME}
    assert peer.service.GetStats(callinguser=home_manager, targetuser="lee", **WINDOW)
    local_cat = {"username": "cat", "remoteuserhostroot": HOME}
    error = fault(lambda: peer.service.GetStats(callinguser=local_cat, targetuser="lee", **WINDOW))
    assert error.code.endswith("Client.Forbidden")


def test_a_peers_fault_comes_back_as_that_fault_and_nothing_of_the_peer(network):
    error = fault(lambda: hub_as(network, "mgr").GetStats(whereroot=C, targetuser="nobody",
                                                          **WINDOW))
    assert error.code.endswith("Client.UnknownUser")
    port = network["own"][C].split(":")[2].split("/")[0]
    for secret in (port, network["password"], "hub", "127.0.0.1", "Traceback"):
        assert secret not in error.message
    error = fault(lambda: hub_as(network, "mgr").GetStats(whereroot="https://x.test",
                                                          targetuser="lee"))
    assert error.code.endswith("Client.UnknownHost")
    error = fault(lambda: hub_as(network, "mgr").GetScores(
        whereroot="*", targetuser="lee", courseidfield="shortname", courseidentifier="ALG"))
    assert error.code.endswith("Client.InvalidParameter")


class _Hanging:
    """A socket that accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for held in self.held:
            held.close()


@pytest.fixture(scope="module")
def faulty(network, tmp_path_factory):
    """A hub (one worker, one thread) with a dead peer, a hanging peer and a live one."""
    folder = tmp_path_factory.mktemp("faulty")
    hanging = _Hanging()
    with closing(hanging), ExitStack() as stack:
        dead = f"http://127.0.0.1:{free_port()}/soap"
        single = folder / "single.py"
        single.write_text("workers = 1\nthreads = 1\ntimeout = 60\n")
        url = _served(stack, network["home"].url, folder, "faulty", (
            _peer("https://dead.test", dead, network["password"], TIMEOUT)
            + _peer("https://hanging.test", f"http://127.0.0.1:{hanging.port}/soap",
                    network["password"], TIMEOUT)
            + _peer(C, network["own"][C], network["password"])), gunicorn_config=str(single))
        yield client(url, network["home"].tokens["mgr"]).service


@pytest.mark.parametrize("wwwroot", ["https://dead.test", "https://hanging.test", "*"])
def test_a_dead_or_hanging_peer_fails_within_its_timeout(faulty, wwwroot):
    started = time.monotonic()
    error = fault(lambda: faulty.GetStats(whereroot=wwwroot, targetuser="lee", **WINDOW))
    took = time.monotonic() - started
    assert error.code.endswith("Server.RemoteFailure")
    assert "dead.test" in error.message or "hanging.test" in error.message
    assert took < TIMEOUT + 1.5
    assert str(free_port()) not in error.message and "127.0.0.1" not in error.message
    started = time.monotonic()
    assert faulty.GetStats(whereroot=C, targetuser="lee", **WINDOW).USER.SECONDS > 0
    assert time.monotonic() - started < 5  # the worker is free again


def test_a_forwarding_loop_between_two_hubs_is_refused_at_once(network, tmp_path_factory):
    folder = tmp_path_factory.mktemp("loop")
    home, key, password = network["home"].url, network["key"], network["password"]
    with ExitStack() as stack:
        first_port = free_port()
        first_url = f"http://127.0.0.1:{first_port}/soap"
        second = _served(stack, home, folder, "second",
                         network["clients"] + _peer("https://x.test", first_url, password), key)
        config = folder / "first.toml"
        config.write_text(network["clients"] + _peer("https://x.test", second, password))
        with gunicorn(home, USESTATS_CONFIG=str(config), USESTATS_SECRET_KEY=key,
                      port=first_port) as first:
            started = time.monotonic()
            error = fault(lambda: client(first, network["home"].tokens["mgr"]).service.GetStats(
                whereroot="https://x.test", targetuser="lee", **WINDOW))
            assert time.monotonic() - started < 3
    assert error.code.endswith("Server.RemoteFailure")
    assert "forwarding loop" in error.message


def test_check_reports_every_site(network, tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[sites."{B}"]\ndatabase_url = "{network["sites"][B].url}"\n'
        + _peer(C, network["own"][C], network["password"])
        + _peer("https://wrong.test", network["own"][C], "not-the-password", TIMEOUT)
        + _peer("https://dead.test", f"http://127.0.0.1:{free_port()}/soap", "x", TIMEOUT))
    settings = load_settings({"USESTATS_CONFIG": str(config),
                              "USESTATS_DATABASE_URL": network["home"].url})
    found = {f.subject: f for f in check(settings, now=int(time.time()))}
    assert found[f"site {B}"].status == "ok"
    assert found[f"site {C}"].status == "ok", found[f"site {C}"]
    assert found["site https://wrong.test"].status == "FAIL"
    assert "credentials" in found["site https://wrong.test"].detail
    assert found["site https://dead.test"].status == "FAIL"


# A hostile peer: the hub loads nothing but the peer's own WSDL, gives each exchange one
# deadline, bounds an answer's size and checks its figures (docs/security.md).

#: Bytes the hub may hold at its peak while it refuses a 300 MB answer (the bound is 16 MiB).
FLOOD_GROWTH = 64 * MIB


@pytest.fixture(scope="module")
def hostile(network, tmp_path_factory):
    """A hub (one worker, one thread) whose peers misbehave, each in front of the real peer
    C; and the witness where they point the hub to."""
    folder = tmp_path_factory.mktemp("hostile")
    secret = folder / "secret.xsd"
    secret.write_bytes(EMPTY_SCHEMA)
    upstream = network["own"][C]
    with ExitStack() as stack:
        witness = Witness()
        stack.callback(witness.close)

        def hostile_peer(**behaviour) -> HostilePeer:
            peer = HostilePeer(upstream, C, **behaviour)
            stack.callback(peer.close)
            return peer

        peers = {
            "import": hostile_peer(wsdl=importing(f"{witness.url}/import.xsd")),
            "include": hostile_peer(wsdl=importing(f"{witness.url}/include.xsd", "include")),
            "wsdl-import": hostile_peer(wsdl=importing(f"{witness.url}/imported.wsdl", "wsdl")),
            "file": hostile_peer(wsdl=importing(secret.as_uri())),
            "redirect": hostile_peer(redirect_wsdl=f"{witness.url}/redirected.wsdl"),
            "redirect-call": hostile_peer(redirect_call=f"{witness.url}/redirected"),
            "drip-wsdl": hostile_peer(drip_wsdl=0.5),
            "drip-answer": hostile_peer(drip_answer=0.5),
            "flood": hostile_peer(flood=300 * MIB, declare_length=False),
            "flood-declared": hostile_peer(flood=300 * MIB),
            "figures": hostile_peer(),
        }
        single = folder / "single.py"
        single.write_text("workers = 1\nthreads = 1\ntimeout = 60\n")
        url = _served(stack, network["home"].url, folder, "hostile", "".join(
            _peer(f"https://{name}.test", peer.soap_url, network["password"],
                  10 if name.startswith("flood") else TIMEOUT)
            for name, peer in peers.items()) + _peer(C, upstream, network["password"]),
            gunicorn_config=str(single))
        yield {"hub": client(url, network["home"].tokens["mgr"]).service, "url": url,
               "peers": peers, "witness": witness, "secret": secret,
               "password": network["password"]}


def _refused(hostile, name: str, **asked) -> zeep.exceptions.Fault:
    """The hub's fault for a call to the hostile site ``name``: Server.RemoteFailure naming
    that site and nothing of the peer; the hub is free again at once."""
    asked = {"targetuser": "lee", **WINDOW, **asked}
    error = fault(lambda: hostile["hub"].GetStats(whereroot=f"https://{name}.test", **asked))
    assert error.code.endswith("Server.RemoteFailure"), error.message
    assert f"https://{name}.test" in error.message
    peer = hostile["peers"][name]
    ports = (peer.url.rsplit(":", 1)[1], hostile["witness"].url.rsplit(":", 1)[1])
    for secret in ("127.0.0.1", *ports, str(hostile["secret"]), hostile["password"], "Traceback"):
        assert secret not in error.message
    assert hostile["hub"].GetStats(whereroot=C, targetuser="lee", **WINDOW).USER.SECONDS > 0
    return error


@pytest.mark.parametrize("name, path", [("import", "/import.xsd"), ("include", "/include.xsd"),
                                        ("wsdl-import", "/imported.wsdl")])
def test_an_import_or_include_to_another_address_is_not_followed(hostile, name, path):
    error = _refused(hostile, name)
    assert "another document" in error.message
    assert hostile["witness"].seen(path) == []  # neither the credentials nor anything else


def test_an_import_of_a_local_file_is_not_read(hostile):
    error = _refused(hostile, "file")
    assert "another document" in error.message


@pytest.mark.parametrize("name, path", [("redirect", "/redirected.wsdl"),
                                        ("redirect-call", "/redirected")])
def test_a_redirect_is_not_followed(hostile, name, path):
    error = _refused(hostile, name)
    assert "redirect" in error.message
    assert hostile["witness"].seen(path) == []


@pytest.mark.parametrize("name", ["drip-wsdl", "drip-answer"])
def test_a_peer_that_drips_its_answer_fails_within_its_timeout(hostile, name):
    started = time.monotonic()
    error = _refused(hostile, name)
    assert f"within {TIMEOUT} s" in error.message
    assert time.monotonic() - started < TIMEOUT + 5  # the refusal, then a call to C


@pytest.mark.parametrize("name", ["flood", "flood-declared"])
def test_a_huge_answer_is_refused_without_holding_it(hostile, name):
    with peak_growth(gunicorn_worker(hostile["url"])) as growth:
        error = _refused(hostile, name)
    assert "larger than" in error.message and "max_answer_bytes" in error.message
    assert growth["bytes"] < FLOOD_GROWTH


@pytest.mark.parametrize("element, values, broken", [
    ("USER", dict(SECONDS=-181140, ELAPSED=-3019), "USER/SECONDS -181140 is negative"),
    ("USER", dict(EVENTS=-1), "USER/EVENTS -1 is negative"),
    ("USER", dict(EVENTS=2**40), "USER/EVENTS is beyond xs:int"),
    ("USER", dict(ELAPSED=1), "USER/ELAPSED 1 is not SECONDS"),
    ("USER", dict(SECONDS=None), "USER/SECONDS is missing"),
    ("USE_STATS", {}, "USE_STATS/USER is missing"),
], ids=["negative", "negative events", "huge events", "elapsed", "missing seconds", "empty"])
def test_figures_that_break_the_contract_are_refused(hostile, element, values, broken):
    hostile["peers"]["figures"].answer = edited(element, **values)
    error = _refused(hostile, "figures")
    assert broken in error.message


@pytest.mark.parametrize("scope, element, values, broken", [
    ("course", "COURSE", dict(ELAPSED=0), "COURSE/ELAPSED 0 is not SECONDS"),
    ("course", "COURSE", dict(ACTIVITYSECONDS=-5), "COURSE/ACTIVITYSECONDS -5 is negative"),
    ("course", "DAY", dict(ELAPSED=99), "DAY/ELAPSED 99 is not SECONDS"),
    ("module", "MODULE", dict(SECONDS=-60, ELAPSED=-1), "MODULE/SECONDS -60 is negative"),
    ("module", "MODULE", dict(NAME=None), "against the contract: its XML does not fit the WSDL"),
    ("course", "DAY", dict(FINAL="false"), "DAY/FINAL of 1970-01-02 is false, against USER/"),
    ("site", "USER", dict(FINALBEFORE=None), "DAY/FINAL of 1970-01-02 is true, against USER/"),
])
def test_figures_at_every_level_are_checked(hostile, scope, element, values, broken):
    hostile["peers"]["figures"].answer = edited(element, **values)
    error = _refused(hostile, "figures", statsscope=scope, daily=True, timezone="UTC")
    assert broken in error.message


def test_the_sessions_a_peer_lists_are_those_it_counts(hostile):
    hostile["peers"]["figures"].answer = edited("USER", SESSIONCOUNT=9)
    error = _refused(hostile, "figures", sessions=True)
    assert "USER/SESSIONCOUNT 9 is not the number of SESSION, 2" in error.message


def test_pages_and_scores_of_a_peer_are_checked(hostile):
    figures = hostile["peers"]["figures"]
    figures.answer = edited("USER", SECONDS=-60, ELAPSED=-1)
    error = fault(lambda: hostile["hub"].GetUsersStats(whereroot="https://figures.test",
                                                       statsscope="course", **WINDOW))
    assert error.code.endswith("Server.RemoteFailure") and "is negative" in error.message
    figures.answer = edited("USER_SCORES", COURSE=None)
    error = fault(lambda: hostile["hub"].GetScores(
        whereroot="https://figures.test", targetuser="lee", courseidfield="shortname",
        courseidentifier="ALG"))
    assert error.code.endswith("Server.RemoteFailure") and "against the contract" in error.message


def test_a_peer_that_keeps_the_contract_is_relayed_as_it_is(hostile, network):
    hostile["peers"]["figures"].answer = lambda answer: answer
    asked = dict(targetuser="lee", statsscope="module", **WINDOW)
    assert_same_answer(plain(hostile["hub"].GetStats(whereroot="https://figures.test", **asked)),
                       plain(own_service(network, C).GetStats(**asked)))


def test_negative_figures_are_not_summed_into_every_site(network, tmp_path_factory):
    folder = tmp_path_factory.mktemp("negative")
    negative = HostilePeer(network["own"][C], C,
                           answer=edited("USER", SECONDS=-181140, ELAPSED=-3019))
    with closing(negative), ExitStack() as stack:
        url = _served(stack, network["home"].url, folder, "negative", _peer(
            "https://negative.test", negative.soap_url, network["password"], TIMEOUT))
        error = fault(lambda: client(url, network["home"].tokens["mgr"]).service.GetStats(
            whereroot="*", targetuser="lee", **WINDOW))
    assert error.code.endswith("Server.RemoteFailure")
    assert "https://negative.test" in error.message and "is negative" in error.message
