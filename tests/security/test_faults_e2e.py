"""End to end through zeep: every way a call is refused, and the ways it is let in.

gunicorn serves the school of ``test_authorisation`` with web service tokens for
its users and two configured clients (an ERP acting as the manager, and a
trusted portal); zeep imports the WSDL and calls as each would.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import requests
import zeep
from zeep.plugins import HistoryPlugin
from zeep.wsse.username import UsernameToken

from soap_usestats.auth.clients import new_client, new_secret_key
from tests.support.examples import build_school
from tests.support.moodle import MoodleBuilder
from tests.support.servers import gunicorn

pytestmark = pytest.mark.e2e

TNS = "urn:soap-usestats:1"
ASK = dict(targetuser="alice", statsscope="course", timefrom=0, timeto=100000)
TOKENS = {name: f"{name[:4]}{'0' * 28}" for name in ("admin", "alice", "teacher", "stranger")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    url = f"sqlite:///{folder / 'moodle.sqlite'}"
    b = MoodleBuilder(url)
    school = build_school(b)
    b.config("enablewebservices", "1")
    service = b.service()
    for name, token in TOKENS.items():
        b.token(token, school.users[name], service)
    b.engine.dispose()
    key = new_secret_key()
    erp, erp_password = new_client(key, "erp", user="manager")
    portal, portal_password = new_client(key, "portal", trusted=True)
    config = folder / "usestats.toml"
    config.write_text("".join(
        f'[clients.{c.name}]\nsalt = "{c.salt}"\npassword_hash = "{c.password_hash}"\n'
        f"trusted = {str(c.trusted).lower()}\n" + (f'user = "{c.user}"\n' if c.user else "")
        for c in (erp, portal)))
    with gunicorn(url, USESTATS_CONFIG=str(config), USESTATS_SECRET_KEY=key,
                  USESTATS_NONCE_STORE=str(folder / "nonces.sqlite")) as soap_url:
        yield {"url": soap_url, "passwords": {"erp": erp_password, "portal": portal_password}}


def client(server, *, token: str | None = None, basic: tuple[str, str] | None = None,
           wsse=None, plugins=()) -> zeep.Client:
    session = requests.Session()
    session.auth = basic
    transport = zeep.Transport(session=session)
    result = zeep.Client(f"{server['url']}?wsdl", transport=transport, wsse=wsse, plugins=list(plugins))
    if token is not None:
        result.service._binding_options["address"] = f"{server['url']}?wstoken={token}"
    return result


def refused(call, code: str, status: int) -> str:
    with pytest.raises(zeep.exceptions.Fault) as raised:
        call()
    assert raised.value.code.endswith(code)
    assert raised.value.detail.find(f"{{{TNS}}}UseStatsFault/{{{TNS}}}status").text == str(status)
    return raised.value.message


def courses(answer) -> set[str]:
    return {c.SHORTNAME for c in answer.COURSES.COURSE} if answer.COURSES else set()


def test_the_wsdl_needs_no_credentials(server):
    with urllib.request.urlopen(f"{server['url']}?wsdl", timeout=10) as response:
        assert response.status == 200


@pytest.mark.parametrize("how", [
    {}, {"token": "wrong" + "0" * 27}, {"token": TOKENS["admin"].upper()},
    {"basic": ("erp", "not the password")}, {"basic": ("nobody", "whatever")},
    {"wsse": UsernameToken("erp", "not the password", use_digest=True)},
])
def test_missing_or_wrong_credentials(server, how):
    message = refused(lambda: client(server, **how).service.GetStats(**ASK),
                      "Client.AuthenticationFailed", 501)
    assert "not the password" not in message and "0" * 27 not in message


def test_two_credentials_at_once_are_refused(server):
    call = client(server, token=TOKENS["admin"], basic=("erp", server["passwords"]["erp"]))
    refused(lambda: call.service.GetStats(**ASK), "Client.AuthenticationFailed", 501)


def test_token_of_the_site_administrator(server):
    assert courses(client(server, token=TOKENS["admin"]).service.GetStats(**ASK)) == {"C5", "C6"}


def test_basic_and_both_username_tokens(server):
    password = server["passwords"]["erp"]
    for how in ({"basic": ("erp", password)},
                {"wsse": UsernameToken("erp", password)},
                {"wsse": UsernameToken("erp", password, use_digest=True)}):
        assert courses(client(server, **how).service.GetStats(**ASK)) == {"C5", "C6"}


def test_replayed_digest_is_refused(server):
    history = HistoryPlugin()
    call = client(server, wsse=UsernameToken("erp", server["passwords"]["erp"], use_digest=True),
                  plugins=[history])
    call.service.GetStats(**ASK)
    sent = zeep.helpers.etree.tostring(history.last_sent["envelope"])
    request = urllib.request.Request(server["url"], data=sent, method="POST",
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert b"Client.AuthenticationFailed" in raised.value.read()


def test_stale_digest_is_refused(server):
    created = datetime.now(UTC) - timedelta(hours=1)
    stale = UsernameToken("erp", server["passwords"]["erp"], use_digest=True, created=created)
    refused(lambda: client(server, wsse=stale).service.GetStats(**ASK),
            "Client.AuthenticationFailed", 501)


def test_own_figures_but_not_anothers(server):
    alice = client(server, token=TOKENS["alice"])
    assert alice.service.GetStats(**{**ASK, "statsscope": "site"}).USER.SECONDS > 0
    refused(lambda: alice.service.GetStats(**{**ASK, "targetuser": "bob"}), "Client.Forbidden", 510)
    refused(lambda: alice.service.GetScores(targetuser="bob", courseidfield="shortname",
                                            courseidentifier="C5"), "Client.Forbidden", 510)


def test_teacher_sees_only_their_course(server):
    teacher = client(server, token=TOKENS["teacher"])
    assert courses(teacher.service.GetStats(**ASK)) == {"C5"}
    refused(lambda: teacher.service.GetStats(**{**ASK, "statsscope": "site"}), "Client.Forbidden", 510)
    refused(lambda: teacher.service.GetScores(targetuser="alice", courseidfield="shortname",
                                              courseidentifier="C6"), "Client.Forbidden", 510)


def test_no_role_is_forbidden_and_learns_nothing(server):
    stranger = client(server, token=TOKENS["stranger"])
    refused(lambda: stranger.service.GetStats(**ASK), "Client.Forbidden", 510)
    refused(lambda: stranger.service.GetStats(**{**ASK, "targetuser": "nobody"}), "Client.Forbidden", 510)


def test_callinguser_is_honoured_only_from_a_trusted_client(server):
    portal = client(server, basic=("portal", server["passwords"]["portal"]))
    as_teacher = portal.service.GetStats(callinguser={"username": "teacher"}, **ASK)
    assert courses(as_teacher) == {"C5"}
    refused(lambda: portal.service.GetStats(**ASK), "Client.Forbidden", 510)
    erp = client(server, basic=("erp", server["passwords"]["erp"]))
    refused(lambda: erp.service.GetStats(callinguser={"username": "teacher"}, **ASK),
            "Client.Forbidden", 510)
    teacher = client(server, token=TOKENS["teacher"])
    refused(lambda: teacher.service.GetStats(callinguser={"username": "admin"}, **ASK),
            "Client.Forbidden", 510)


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE e [<!ENTITY x "y">]><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<e:Body>&x;</e:Body></e:Envelope>",
    b"<?pi?><e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body/></e:Envelope>",
    b"\xff\xfe not utf-8",
])
def test_hostile_bodies_are_invalid_xml_faults_zeep_can_read(server, body):
    response = requests.post(f"{server['url']}?wstoken={TOKENS['admin']}", data=body,
                             headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)
    assert response.status_code == 500
    operation = client(server).service._binding._operations["GetStats"]
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client(server).service._binding.process_reply(client(server), operation, response)
    assert raised.value.code.endswith("Client.InvalidXML")
