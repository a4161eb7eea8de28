"""WS-Security UsernameToken: finding it in an envelope, PasswordText and PasswordDigest, replays."""

import base64
import hashlib
import multiprocessing
import os
import stat
import time
from datetime import datetime, timezone

import pytest
from lxml import etree
from zeep.wsse.username import UsernameToken as ZeepUsernameToken

from soap_usestats.auth.clients import WRONG_CREDENTIALS, ClientRegistry, new_client
from soap_usestats.auth.throttle import SqliteCounts
from soap_usestats.auth.username import (
    MAX_CLOCK_SKEW,
    PRUNE_INTERVAL,
    NonceStore,
    UsernameToken,
    authenticate_username_token,
    username_token,
)
from soap_usestats.exceptions import AuthenticationFailed, ConfigError

KEY = "Jb3kX0v6Yl2S9qWc4TnE8uRf1aHd5gPz7mKo0iVyQxs"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
NOW = 1_700_000_000.0
MAX_AGE = 300


def created(seconds_ago: float = 0) -> str:
    return datetime.fromtimestamp(NOW - seconds_ago, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def token_xml(username: str, password: str, kind: str | None = None, nonce: bytes | None = None,
              when: str | None = None) -> str:
    type_attribute = f' Type="{PROFILE}#{kind}"' if kind else ""
    nonce_element = f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>" if nonce else ""
    created_element = f"<wsu:Created>{when}</wsu:Created>" if when else ""
    return (f'<wsse:UsernameToken><wsse:Username>{username}</wsse:Username>'
            f"<wsse:Password{type_attribute}>{password}</wsse:Password>{nonce_element}{created_element}"
            "</wsse:UsernameToken>")


def envelope(*tokens: str, soap: str = SOAP11, header: bool = True) -> etree._Element:
    security = f'<wsse:Security s:mustUnderstand="1">{"".join(tokens)}</wsse:Security>'
    return etree.fromstring(
        f'<s:Envelope xmlns:s="{soap}" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        f'{f"<s:Header>{security}</s:Header>" if header else ""}<s:Body><GetStats/></s:Body></s:Envelope>')


def digest_token(username: str, password: str, nonce: bytes, when: str | None) -> UsernameToken:
    """A PasswordDigest token as a client builds it."""
    digest = base64.b64encode(hashlib.sha1(nonce + (when or "").encode() + password.encode()).digest())
    return username_token(envelope(token_xml(username, digest.decode(), "PasswordDigest", nonce, when)))


@pytest.fixture
def client():
    return new_client(KEY, "sap-prod", user="erp.service")


@pytest.fixture
def registry(client) -> ClientRegistry:
    return ClientRegistry({"sap-prod": client[0]}, KEY)


@pytest.fixture
def nonces(tmp_path) -> NonceStore:
    return NonceStore(str(tmp_path / "nonces.sqlite"), MAX_AGE)


@pytest.mark.parametrize("soap", [SOAP11, SOAP12])
def test_the_token_is_found_in_soap_11_and_12(soap):
    token = username_token(envelope(token_xml(" sap-prod ", " pass word ", "PasswordText", b"n0nce",
                                              "2023-11-14T22:13:20Z"), soap=soap))
    assert token == UsernameToken("sap-prod", " pass word ", False, base64.b64encode(b"n0nce").decode(),
                                  "2023-11-14T22:13:20Z")


def test_password_text_is_the_default_type():
    assert username_token(envelope(token_xml("sap-prod", "secret"))) == UsernameToken("sap-prod", "secret")


@pytest.mark.parametrize("document", [
    envelope(header=False),
    envelope(),
    etree.fromstring(f'<Envelope xmlns="urn:other"><Header><wsse:Security xmlns:wsse="{WSSE}">'
                     f"{token_xml('a', 'b').replace('wsse:', '')}</wsse:Security></Header></Envelope>"),
    etree.fromstring(f'<s:Envelope xmlns:s="{SOAP11}"><s:Header><Security xmlns="urn:not-wsse">'
                     "<UsernameToken><Username>a</Username><Password>b</Password></UsernameToken>"
                     "</Security></s:Header></s:Envelope>"),
])
def test_no_token_without_a_wsse_security_header(document):
    assert username_token(document) is None


@pytest.mark.parametrize("tokens, message", [
    ([token_xml("sap-prod", "x", "PasswordHash")], "Password Type must be PasswordText or PasswordDigest"),
    ([token_xml("sap-prod", "x").replace("<wsse:Password>x</wsse:Password>", "")], "needs a Username"),
    ([token_xml("", "x")], "needs a Username"),
    ([token_xml("a", "x"), token_xml("b", "y")], "more than one UsernameToken"),
])
def test_malformed_tokens_are_refused(tokens, message):
    with pytest.raises(AuthenticationFailed, match=message):
        username_token(envelope(*tokens))


def test_password_text(client, registry, nonces):
    credential, password = client
    token = username_token(envelope(token_xml("sap-prod", password)))
    assert authenticate_username_token(token, registry, nonces, NOW) == credential
    fresh = username_token(envelope(token_xml("sap-prod", password, "PasswordText", when=created(10))))
    assert authenticate_username_token(fresh, registry, nonces, NOW) == credential


@pytest.mark.parametrize("username, password", [("sap-prod", "wrong"), ("nobody", "wrong")])
def test_wrong_password_text(registry, nonces, username, password):
    token = username_token(envelope(token_xml(username, password, "PasswordText")))
    with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
        authenticate_username_token(token, registry, nonces, NOW)


def test_password_text_with_a_stale_created_is_refused(client, registry, nonces):
    token = username_token(envelope(token_xml("sap-prod", client[1], when=created(MAX_AGE + 1))))
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticate_username_token(token, registry, nonces, NOW)


def test_password_digest(client, registry, nonces):
    credential, password = client
    token = digest_token("sap-prod", password, os.urandom(16), created(5))
    assert token.digest
    assert authenticate_username_token(token, registry, nonces, NOW) == credential


@pytest.mark.parametrize("use_digest", [True, False])
def test_tokens_built_by_zeep(client, registry, nonces, use_digest):
    document = envelope(header=False)
    ZeepUsernameToken("sap-prod", client[1], use_digest=use_digest).apply(document, {})
    token = username_token(document)
    assert token.digest == use_digest
    assert authenticate_username_token(token, registry, nonces, time.time()) == client[0]


@pytest.mark.parametrize("username, password", [("sap-prod", "wrong"), ("nobody", "PASSWORD")])
def test_wrong_password_digest(client, registry, nonces, username, password):
    token = digest_token(username, password.replace("PASSWORD", client[1]), os.urandom(16), created())
    with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
        authenticate_username_token(token, registry, nonces, NOW)


def test_a_replayed_digest_is_refused(client, registry, nonces):
    nonce = os.urandom(16)
    token = digest_token("sap-prod", client[1], nonce, created())
    authenticate_username_token(token, registry, nonces, NOW)
    with pytest.raises(AuthenticationFailed, match="used before") as failure:
        authenticate_username_token(token, registry, nonces, NOW + 1)
    for secret in (client[1], client[0].password_hash, token.nonce, token.password):
        assert secret not in str(failure.value)


def test_a_replay_to_another_worker_is_refused(client, registry, tmp_path):
    """Two stores on one file are two gunicorn workers of a host."""
    path = str(tmp_path / "nonces.sqlite")
    first, second = NonceStore(path, MAX_AGE), NonceStore(path, MAX_AGE)
    token = digest_token("sap-prod", client[1], os.urandom(16), created())
    authenticate_username_token(token, registry, first, NOW)
    with pytest.raises(AuthenticationFailed, match="used before"):
        authenticate_username_token(token, registry, second, NOW + 2)


def _open_stores(path: str, ready) -> None:
    ready.wait()
    NonceStore(path, MAX_AGE)
    SqliteCounts(path)


def test_workers_that_start_together_all_open_a_new_store(tmp_path):
    """gunicorn's workers open a new store file at once, each switching it to WAL, which
    SQLite refuses at once (not after its timeout) while another does: none fails."""
    context = multiprocessing.get_context("fork")
    for attempt in range(25):
        path, ready = str(tmp_path / f"nonces{attempt}.sqlite"), context.Barrier(4)
        workers = [context.Process(target=_open_stores, args=(path, ready)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert [worker.exitcode for worker in workers] == [0] * 4, attempt


def test_a_failed_digest_does_not_spend_the_nonce(client, registry, nonces):
    nonce = os.urandom(16)
    with pytest.raises(AuthenticationFailed, match=WRONG_CREDENTIALS):
        authenticate_username_token(digest_token("sap-prod", "wrong", nonce, created()),
                                    registry, nonces, NOW)
    token = digest_token("sap-prod", client[1], nonce, created())
    assert authenticate_username_token(token, registry, nonces, NOW) == client[0]


@pytest.mark.parametrize("seconds_ago, message", [
    (MAX_AGE + 1, "expired"),
    (-MAX_CLOCK_SKEW - 1, "in the future"),
    (-24 * 3600, "in the future"),
])
def test_a_digest_outside_the_freshness_window_is_refused(client, registry, nonces, seconds_ago, message):
    token = digest_token("sap-prod", client[1], os.urandom(16), created(seconds_ago))
    with pytest.raises(AuthenticationFailed, match=message):
        authenticate_username_token(token, registry, nonces, NOW)


@pytest.mark.parametrize("seconds_ago", [MAX_AGE - 1, -MAX_CLOCK_SKEW + 1])
def test_a_digest_at_the_edges_of_the_window_is_accepted(client, registry, nonces, seconds_ago):
    token = digest_token("sap-prod", client[1], os.urandom(16), created(seconds_ago))
    assert authenticate_username_token(token, registry, nonces, NOW) == client[0]


@pytest.mark.parametrize("when", ["2023-11-14 22:13:20Z", "2023-11-14T22:13:20", "yesterday",
                                  "2026-13-45T99:99:99Z", "2023-02-30T22:13:20Z",
                                  "2023-11-14T24:00:00Z", "2023-11-14T22:13:20+99:00"])
def test_a_created_that_is_not_an_xs_datetime_with_zone_is_refused(client, registry, nonces, when):
    token = digest_token("sap-prod", client[1], os.urandom(16), when)
    with pytest.raises(AuthenticationFailed, match="xs:dateTime"):
        authenticate_username_token(token, registry, nonces, NOW)


def test_a_digest_needs_nonce_and_created(client, registry, nonces):
    without_nonce = digest_token("sap-prod", client[1], b"", created())
    with pytest.raises(AuthenticationFailed, match="needs a Nonce"):
        authenticate_username_token(without_nonce, registry, nonces, NOW)
    without_created = digest_token("sap-prod", client[1], os.urandom(16), None)
    with pytest.raises(AuthenticationFailed, match="needs a wsu:Created"):
        authenticate_username_token(without_created, registry, nonces, NOW)


def test_nonces_are_per_client_and_forgotten_after_the_window(nonces):
    assert nonces.remember("sap-prod", b"nonce", NOW)
    assert not nonces.remember("sap-prod", b"nonce", NOW + MAX_AGE + MAX_CLOCK_SKEW - 1)
    assert nonces.remember("gateway", b"nonce", NOW + 1)
    later = NOW + MAX_AGE + MAX_CLOCK_SKEW + PRUNE_INTERVAL
    assert nonces.remember("sap-prod", b"nonce", later)


def test_the_nonce_store_is_private(tmp_path):
    path = tmp_path / "nonces.sqlite"
    NonceStore(str(path), MAX_AGE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    link = tmp_path / "link.sqlite"
    link.symlink_to(path)
    with pytest.raises(ConfigError, match="cannot open nonce_store"):
        NonceStore(str(link), MAX_AGE)
