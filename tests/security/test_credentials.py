"""Client credentials: derived passwords, their hashes, HTTP Basic, and checks that do not leak."""

import base64
import hashlib
import hmac

import pytest

from soap_usestats.auth import clients as credentials
from soap_usestats.auth.clients import (
    WRONG_CREDENTIALS,
    ClientRegistry,
    basic_auth,
    derive_password,
    hash_password,
    new_client,
    new_secret_key,
)
from soap_usestats.config import ClientCredential, Settings
from soap_usestats.exceptions import AuthenticationFailed, ConfigError

KEY = "Jb3kX0v6Yl2S9qWc4TnE8uRf1aHd5gPz7mKo0iVyQxs"
CREATED = "2023-11-14T22:13:20Z"


@pytest.fixture
def clients() -> dict[str, tuple[ClientCredential, str]]:
    return {"sap-prod": new_client(KEY, "sap-prod", user="erp.service"),
            "gateway": new_client(KEY, "gateway", trusted=True)}


@pytest.fixture
def registry(clients) -> ClientRegistry:
    return ClientRegistry({name: client for name, (client, _) in clients.items()}, KEY)


def client_digest(password: str, nonce: bytes, created: str) -> str:
    """PasswordDigest as a WS-Security client computes it."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def test_derivation_is_the_documented_hmac():
    mac = hmac.new(KEY.encode(), b"soap-usestats client\0sap-prod\0salt", hashlib.sha256).digest()
    password = derive_password(KEY, "sap-prod", "salt")
    assert password == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert len(password) == 43 and "=" not in password


def test_derivation_is_deterministic_and_depends_on_key_name_and_salt():
    password = derive_password(KEY, "sap-prod", "salt")
    assert derive_password(KEY, "sap-prod", "salt") == password
    others = {derive_password(KEY, "sap-test", "salt"), derive_password(KEY, "sap-prod", "pepper"),
              derive_password(new_secret_key(), "sap-prod", "salt")}
    assert password not in others and len(others) == 3


def test_a_new_client_has_a_fresh_salt_and_the_hash_of_its_password():
    (first, password), (second, _) = new_client(KEY, "sap-prod"), new_client(KEY, "sap-prod")
    assert first.salt != second.salt and first.password_hash != second.password_hash
    assert password == derive_password(KEY, "sap-prod", first.salt)
    assert first.password_hash == "sha256:" + hashlib.sha256(password.encode()).hexdigest()
    assert first.password_hash == hash_password(password)
    assert len(base64.urlsafe_b64decode(first.salt + "==")) == 16


def test_password_checks_the_client(registry, clients):
    client, password = clients["sap-prod"]
    assert registry.check_password("sap-prod", password) == client
    assert (client.trusted, client.user) == (False, "erp.service")
    gateway, password = clients["gateway"]
    assert registry.check_password("gateway", password).trusted


@pytest.mark.parametrize("name, password", [
    ("sap-prod", "wrong"),
    ("sap-prod", ""),
    ("gateway", "PASSWORD OF sap-prod"),
    ("nobody", "PASSWORD OF sap-prod"),
    ("", "PASSWORD OF sap-prod"),
])
def test_a_wrong_password_and_an_unknown_name_fail_alike(registry, clients, name, password):
    real, real_password = clients["sap-prod"]
    password = password.replace("PASSWORD OF sap-prod", real_password)
    with pytest.raises(AuthenticationFailed) as failure:
        registry.check_password(name, password)
    assert str(failure.value) == WRONG_CREDENTIALS
    assert real_password not in str(failure.value) and real.password_hash not in str(failure.value)


def test_unknown_names_take_the_same_path_as_known_ones(registry, clients, monkeypatch):
    """An unknown name is compared against a dummy client: same comparisons, same lengths."""
    compared = []

    def compare_digest(a, b):
        compared.append((len(a), len(b)))
        return hmac_compare(a, b)

    hmac_compare = hmac.compare_digest
    monkeypatch.setattr(credentials.hmac, "compare_digest", compare_digest)
    derived = []
    monkeypatch.setattr(credentials, "derive_password",
                        lambda *args: derived.append(args) or derive_password(*args))
    for name in ("sap-prod", "nobody"):
        with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
            registry.check_password(name, "wrong")
        with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
            registry.check_digest(name, client_digest("wrong", b"n" * 16, CREATED),
                                  base64.b64encode(b"n" * 16).decode(), CREATED)
    assert compared[:2] == compared[2:] and len(compared) == 4
    assert len(derived) == 2


def test_digest_checks_the_client(registry, clients):
    client, password = clients["sap-prod"]
    nonce = b"0123456789abcdef"
    digest = client_digest(password, nonce, CREATED)
    assert registry.check_digest("sap-prod", digest, base64.b64encode(nonce).decode(), CREATED) == client


@pytest.mark.parametrize("name, change", [
    ("sap-prod", "password"), ("sap-prod", "created"), ("sap-prod", "nonce"), ("gateway", None),
    ("nobody", None), ("sap-prod", "digest"),
])
def test_a_wrong_digest_fails(registry, clients, name, change):
    _, password = clients["sap-prod"]
    nonce = b"0123456789abcdef"
    digest = client_digest(password + "x" if change == "password" else password, nonce,
                           CREATED.replace("22:13", "22:14") if change == "created" else CREATED)
    digest = "not base64!" if change == "digest" else digest
    offered = base64.b64encode(b"another nonce" if change == "nonce" else nonce).decode()
    with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
        registry.check_digest(name, digest, offered, CREATED)


def test_a_nonce_that_is_not_base64_fails_without_echoing_it(registry, clients):
    _, password = clients["sap-prod"]
    with pytest.raises(AuthenticationFailed) as failure:
        registry.check_digest("sap-prod", client_digest(password, b"x", CREATED), "%%nonce%%", CREATED)
    assert "%%nonce%%" not in str(failure.value)


def test_a_hash_that_does_not_match_the_key_is_refused_at_startup(clients):
    client, _ = clients["sap-prod"]
    with pytest.raises(ConfigError, match="clients.sap-prod: its password_hash does not match") as failure:
        ClientRegistry({"sap-prod": client}, new_secret_key())
    assert client.password_hash not in str(failure.value)


def test_a_registry_from_settings(clients):
    client, password = clients["gateway"]
    registry = ClientRegistry.from_settings(Settings(secret_key=KEY, clients={"gateway": client}))
    assert registry.check_password("gateway", password) == client
    empty = ClientRegistry.from_settings(Settings())
    with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
        empty.check_password("gateway", password)


def basic(value: bytes, scheme: str = "Basic") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"{scheme} {base64.b64encode(value).decode()}"}


def test_basic_auth_reads_name_and_password():
    assert basic_auth(basic(b"sap-prod:s3cret:with:colons")) == ("sap-prod", "s3cret:with:colons")
    assert basic_auth(basic("jürgen:pässword".encode(), scheme="basic")) == ("jürgen", "pässword")
    assert basic_auth(basic(b"sap-prod:")) == ("sap-prod", "")


def test_basic_auth_is_none_without_a_basic_header():
    assert basic_auth({}) is None
    assert basic_auth({"HTTP_AUTHORIZATION": "Bearer abc.def"}) is None


@pytest.mark.parametrize("header", [
    "Basic not*base64", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "Basic " + base64.b64encode(b"no colon").decode(), "Basic", "Basic ",
])
def test_a_malformed_basic_header_is_wrong_credentials(header):
    with pytest.raises(AuthenticationFailed, match=f"^{WRONG_CREDENTIALS}$"):
        basic_auth({"HTTP_AUTHORIZATION": header})


def test_basic_end_to_end(registry, clients):
    client, password = clients["sap-prod"]
    assert registry.check_password(*basic_auth(basic(f"sap-prod:{password}".encode()))) == client


def test_secrets_stay_out_of_reprs(clients):
    client, password = clients["sap-prod"]
    settings = Settings(secret_key=KEY, clients={"sap-prod": client})
    for text in (repr(client), repr(settings)):
        assert client.salt not in text and client.password_hash not in text
        assert KEY not in text and password not in text
