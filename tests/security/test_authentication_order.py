"""A caller is authenticated before Spyne decodes anything, once a call, a token by the
home site: a request without a good credential costs no more than reading its body."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from soap_usestats.auth import tokens
from soap_usestats.auth.caller import Caller
from soap_usestats.config import DirectSite, Settings
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.federation.network import Network
from soap_usestats.soap.endpoint import Endpoint
from soap_usestats.web import body as guard
from tests.security.conftest import TOKEN
from tests.support.network import B, HOME, WINDOW, build_site
from tests.support.wsgi import GET_STATS, envelope

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def typed(scope: int, count: int) -> bytes:
    """``count`` targetusers with an xsi:type, ``scope`` namespaces in scope at each: Spyne
    gathers every namespace in scope for each (lxml's nsmap)."""
    declarations = " ".join(f'xmlns:p{i}="urn:p"' for i in range(scope - 4))
    users = '<u:targetuser i:type="s:string">alice</u:targetuser>' * count
    return envelope(f'<u:GetStats xmlns:i="{XSI}" xmlns:s="{XSD}" {declarations}>{users}</u:GetStats>')


@pytest.fixture
def decoded(monkeypatch) -> list:
    """The operations Spyne was asked to decode a request of, as they come."""
    calls, decode = [], Endpoint.decode

    def spy(self, ctx):
        calls.append(ctx.descriptor.name)
        return decode(self, ctx)

    monkeypatch.setattr(Endpoint, "decode", spy)
    return calls


@pytest.fixture
def checked(monkeypatch) -> list:
    """The tokens the sites were asked to check, as they come."""
    calls, check = [], tokens.check_token

    def spy(conn, queries, config, token, *args):
        calls.append(token)
        return check(conn, queries, config, token, *args)

    monkeypatch.setattr(tokens, "check_token", spy)
    return calls


#: As costly to decode as the bounds let a body be (room left for a UsernameToken): each
#: targetuser's namespaces are gathered.
HOSTILE = typed(guard.MAX_NAMESPACES_IN_SCOPE, guard.MAX_ELEMENTS - 16)


def test_the_hostile_body_is_within_the_bounds(soap, decoded):
    assert soap.post(HOSTILE).fault()[0] == "Client.InvalidParameter"
    assert decoded == ["GetStats"]


@pytest.mark.parametrize("query", [None, "wstoken=" + "b" * 32, "wstoken=", f"wstoken={TOKEN}x"],
                         ids=["no-credentials", "unknown-token", "empty-token", "longer-token"])
def test_a_caller_without_a_good_token_is_refused_before_decoding(soap, decoded, query):
    response = soap.post(HOSTILE, QUERY_STRING=query)
    assert response.fault()[::2] == ("Client.AuthenticationFailed", 501)
    assert decoded == []


def basic(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def username_token(name: str, password: str, created: str | None = None) -> str:
    created = f'<wsu:Created xmlns:wsu="{WSU}">{created}</wsu:Created>' if created else ""
    return (f'<wsse:Security xmlns:wsse="{WSSE}" e:mustUnderstand="1"><wsse:UsernameToken>'
            f"<wsse:Username>{name}</wsse:Username><wsse:Password>{password}</wsse:Password>"
            f"{created}</wsse:UsernameToken></wsse:Security>")


def with_header(body: bytes, header: str) -> bytes:
    return body.replace(b"<e:Body>", f"<e:Header>{header}</e:Header><e:Body>".encode(), 1)


def test_wrong_client_credentials_are_refused_before_decoding(erp, decoded):
    client, password = erp
    response = client.post(HOSTILE, QUERY_STRING=None, HTTP_AUTHORIZATION=basic("erp", "wrong"))
    assert response.fault()[0] == "Client.AuthenticationFailed"
    response = client.post(with_header(HOSTILE, username_token("erp", "wrong")), QUERY_STRING=None)
    assert response.fault()[0] == "Client.AuthenticationFailed"
    assert decoded == []
    good = client.post(GET_STATS, QUERY_STRING=None, HTTP_AUTHORIZATION=basic("erp", password))
    assert good.status == 200 and decoded == ["GetStats"]


@pytest.mark.parametrize("created", ["2026-13-45T99:99:99Z", "2026-02-30T12:00:00Z",
                                     "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+99:00"])
def test_a_malformed_created_is_a_client_fault_naming_it(erp, decoded, created):
    client, password = erp
    for who in (("erp", password), ("nobody", "wrong")):
        response = client.post(with_header(GET_STATS, username_token(*who, created)),
                               QUERY_STRING=None)
        code, message, status = response.fault()
        assert (code, status) == ("Client.AuthenticationFailed", 501)
        assert "Created" in message
    assert decoded == []


def test_a_token_is_checked_once_a_call(soap, decoded, checked):
    assert soap.post(GET_STATS).status == 200
    assert checked == [TOKEN] and decoded == ["GetStats"]


#: Where the home site's service is published: a network needs its own address.
HOME_SERVICE = "http://127.0.0.1:8000/soap"


@pytest.fixture
def network(tmp_path):
    home = build_site(f"sqlite:///{tmp_path / 'home.sqlite'}", HOME, None, 0)
    other = build_site(f"sqlite:///{tmp_path / 'b.sqlite'}", B, HOME, 1)
    yield Network.from_settings(Settings(database_url=home.url, public_url=HOME_SERVICE,
                                         sites={B: DirectSite(B, other.url)})), home
    for site in (home, other):
        site.builder.engine.dispose()


@pytest.mark.parametrize("whereroot", [None, B, "*"])
def test_a_token_accepted_by_the_home_site_acts_for_its_owner_everywhere(network, checked,
                                                                          whereroot):
    net, home = network
    presented = Caller(label="mgr", token=home.tokens["mgr"], address="127.0.0.1")
    owner = net.home.token_owner(presented.token, presented.address, 2_000_000)
    accepted = replace(presented, userid=owner)
    asked = StatsRequest(targetuser="lee", whereroot=whereroot, statsscope="course", **WINDOW)
    checked.clear()
    answer = net.get_stats(asked, now=2_000_000, caller=accepted)
    assert checked == []  # the owner is known: never checked again, on any site
    assert answer == net.get_stats(asked, now=2_000_000, caller=presented)  # as when the site checks it
