"""Configuration: a TOML file named in USESTATS_CONFIG, overridden by the environment."""

import os
import tempfile
from ipaddress import ip_network

import pytest

from soap_usestats.config import (
    DEFAULT_LEDGER_URL,
    DEMO_DATABASE_URL,
    Capabilities,
    ClientCredential,
    ConfigError,
    Settings,
    load_settings,
)
from soap_usestats.timemodel.settings import TimeModelOverrides


def test_defaults_without_file_or_environment():
    """public_url not configured is None: the address served decides (tests/test_serving.py)."""
    assert load_settings({}) == Settings(DEMO_DATABASE_URL, "mdl_", None, TimeModelOverrides())


def test_file_then_environment(tmp_path):
    path = tmp_path / "usestats.toml"
    path.write_text('database_url = "postgresql+psycopg://ro@db/moodle"\n'
                    'table_prefix = "m_"\n'
                    "[use_stats]\nthreshold = 30\ncapturemodules = []\nignoremodules = [\"label\"]\n")
    settings = load_settings({"USESTATS_CONFIG": str(path), "USESTATS_TABLE_PREFIX": "x_",
                              "USESTATS_LASTPINGCREDIT": "5", "USESTATS_ENROLMENTFILTER": "on"})
    assert (settings.database_url, settings.table_prefix) == ("postgresql+psycopg://ro@db/moodle", "x_")
    assert settings.use_stats == TimeModelOverrides(threshold=30, lastpingcredit=5,
                                                    ignoremodules=frozenset({"label"}),
                                                    capturemodules=frozenset(), enrolmentfilter=True)


def test_comma_separated_labels_from_the_environment():
    settings = load_settings({"USESTATS_CAPTUREMODULES": "learningtimecheck, scorm,"})
    assert settings.use_stats.capturemodules == frozenset({"learningtimecheck", "scorm"})


@pytest.mark.parametrize("environ, message", [
    ({"USESTATS_THRESHOLD": "soon"}, "^USESTATS_THRESHOLD must be a whole number of minutes$"),
    ({"USESTATS_THRESHOLD": "abc"}, "^USESTATS_THRESHOLD must be a whole number of minutes$"),
    ({"USESTATS_LASTPINGCREDIT": "-1"}, "^USESTATS_LASTPINGCREDIT must be"),
    ({"USESTATS_ENROLMENTFILTER": "maybe"}, "^USESTATS_ENROLMENTFILTER must be true or false$"),
    ({"USESTATS_IGNOREMODULES": ""}, None),
    ({"USESTATS_CACHE_SECONDS": "1m"}, "^USESTATS_CACHE_SECONDS must be a whole number$"),
    ({"USESTATS_MAX_REQUEST_BYTES": "0"}, "^USESTATS_MAX_REQUEST_BYTES must be a positive"),
    ({"USESTATS_PUBLIC_URL": ""}, "^USESTATS_PUBLIC_URL must be a non-empty string$"),
    ({"USESTATS_TRUSTED_PROXIES": "proxy.example"}, "^USESTATS_TRUSTED_PROXIES: 'proxy.example'"),
    ({"USESTATS_SECRET_KEY": "short"}, r"^the secret key must be .* \(USESTATS_SECRET_KEY\)$"),
    ({"USESTATS_CONFIG": "/nonexistent/usestats.toml"}, "cannot read"),
])
def test_bad_values_are_named(environ, message):
    """An environment variable's error names the variable, not the file's key."""
    if message is None:
        load_settings(environ)
        return
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


@pytest.mark.parametrize("text, message", [
    ("[use_stats]\nthreshold = \"soon\"\n", "^use_stats.threshold must be a whole number"),
    ("cache_seconds = -1\n", "^cache_seconds must be a whole number$"),
    ('trusted_proxies = "proxy.example"\n', "^trusted_proxies: 'proxy.example'"),
])
def test_bad_values_in_the_file_are_named_by_their_key(tmp_path, text, message):
    path = tmp_path / "usestats.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings({"USESTATS_CONFIG": str(path)})


def test_unknown_and_malformed_files(tmp_path):
    typo = tmp_path / "typo.toml"
    typo.write_text('databse_url = "x"\n[use_stats]\nthreshhold = 3\n')
    with pytest.raises(ConfigError, match="databse_url, use_stats.threshhold"):
        load_settings({"USESTATS_CONFIG": str(typo)})
    broken = tmp_path / "broken.toml"
    broken.write_text("database_url = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"USESTATS_CONFIG": str(broken)})


KEY = "Jb3kX0v6Yl2S9qWc4TnE8uRf1aHd5gPz7mKo0iVyQxs"
HASH = "sha256:" + "ab" * 32
CLIENT = f'[clients.sap-prod]\nsalt = "s4lt"\npassword_hash = "{HASH}"\n'


def config(tmp_path, text: str, **environ) -> dict[str, str]:
    path = tmp_path / "usestats.toml"
    path.write_text(text)
    return {"USESTATS_CONFIG": str(path), **environ}


def test_security_defaults():
    settings = load_settings({})
    assert (settings.secret_key, settings.secret_key_file, dict(settings.clients)) == (None, None, {})
    assert settings.nonce_store == os.path.join(tempfile.gettempdir(), "soap-usestats-nonces.sqlite")
    assert (settings.wsse_max_age, settings.max_request_bytes, settings.trusted_proxies) == (300, 1048576, ())
    assert settings.capabilities == Capabilities("block/use_stats:seesitedetails",
                                                 "block/use_stats:seecoursedetails",
                                                 "block/use_stats:seeowndetails")


def test_clients_and_their_key_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(f"{KEY}\n")
    settings = load_settings(config(
        tmp_path, f'secret_key_file = "{key_file}"\nnonce_store = "/var/lib/n.sqlite"\nwsse_max_age = 60\n'
        f'{CLIENT}trusted = true\nuser = "erp.service"\n'
        f'[clients."erp@host.example"]\nsalt = "pepper"\npassword_hash = "{HASH}"\n'))
    assert settings.secret_key == KEY
    assert dict(settings.clients) == {
        "sap-prod": ClientCredential("sap-prod", "s4lt", HASH, True, "erp.service"),
        "erp@host.example": ClientCredential("erp@host.example", "pepper", HASH, False, None),
    }
    assert (settings.nonce_store, settings.wsse_max_age) == ("/var/lib/n.sqlite", 60)


def test_the_environment_overrides_security_settings(tmp_path):
    environ = config(tmp_path, f'secret_key_file = "/nonexistent"\nwsse_max_age = 60\n'
                               f'trusted_proxies = ["10.0.0.0/8"]\n{CLIENT}',
                     USESTATS_SECRET_KEY=KEY, USESTATS_WSSE_MAX_AGE="120", USESTATS_MAX_REQUEST_BYTES="2048",
                     USESTATS_TRUSTED_PROXIES="127.0.0.1, ::1,192.168.0.0/16", USESTATS_NONCE_STORE="/run/n")
    settings = load_settings(environ)
    assert (settings.secret_key, settings.wsse_max_age, settings.max_request_bytes) == (KEY, 120, 2048)
    assert settings.trusted_proxies == tuple(
        ip_network(n) for n in ("127.0.0.1", "::1", "192.168.0.0/16"))
    assert settings.nonce_store == "/run/n"


def test_capabilities_for_sites_without_block_use_stats(tmp_path):
    settings = load_settings(config(tmp_path, '[capabilities]\nsite = "moodle/site:viewreports"\n'))
    assert settings.capabilities == Capabilities(site="moodle/site:viewreports")


@pytest.mark.parametrize("text, environ, message", [
    (f'secret_key = "{KEY}"\n', {}, "secret_key cannot be in the configuration file"),
    (CLIENT, {}, "clients are configured but there is no secret key: set USESTATS_SECRET_KEY or "
                 "secret_key_file"),
    (CLIENT, {"USESTATS_SECRET_KEY": "short"}, "secret key must be at least 32 characters"),
    ('secret_key_file = "/nonexistent/key"\n', {}, "cannot read secret_key_file /nonexistent/key"),
    (CLIENT.replace("sap-prod", '"sap prod"'), {}, r"clients\.sap prod: a client name is"),
    (CLIENT.replace('salt = "s4lt"\n', ""), {}, r"clients\.sap-prod\.salt is missing"),
    (CLIENT.replace('"s4lt"', "7"), {}, r"clients\.sap-prod\.salt must be a non-empty string"),
    (CLIENT.replace(HASH, "md5:0"), {}, r"clients\.sap-prod\.password_hash must be sha256:"),
    (CLIENT + 'trusted = "yes"\n', {}, r"clients\.sap-prod\.trusted must be true or false"),
    (CLIENT + "user = 42\n", {}, r"clients\.sap-prod\.user must be a non-empty string"),
    (CLIENT + 'password = "x"\nname = "y"\n', {},
     r"unknown settings: clients\.sap-prod\.name, clients\.sap-prod\.password$"),
    ('clients = "sap-prod"\n', {}, "clients must be a table"),
    ("wsse_max_age = 0\n", {}, "wsse_max_age must be a positive whole number"),
    ("wsse_max_age = true\n", {}, "wsse_max_age must be a positive whole number"),
    ("", {"USESTATS_WSSE_MAX_AGE": "5m"}, "USESTATS_WSSE_MAX_AGE must be a positive whole number"),
    ("max_request_bytes = -1\n", {}, "max_request_bytes must be a positive whole number"),
    ('trusted_proxies = ["10.0.0.0/8", "proxy.example"]\n', {}, "trusted_proxies: 'proxy.example' is not"),
    ("trusted_proxies = [1]\n", {}, "trusted_proxies must be a list"),
    ("", {"USESTATS_TRUSTED_PROXIES": "10.0.0.1,10.0.0.300"}, "'10.0.0.300' is not an IP address"),
    ("nonce_store = 5\n", {}, "nonce_store must be a non-empty string"),
    ("database_url = \"\"\n", {}, "database_url must be a non-empty string"),
    ('[capabilities]\nsite = "x"\nreport = "y"\n', {}, r"unknown settings: capabilities\.report"),
    ("[capabilities]\nown = false\n", {}, r"capabilities\.own must be a non-empty string"),
])
def test_bad_security_settings_are_named(tmp_path, text, environ, message):
    with pytest.raises(ConfigError, match=message) as failure:
        load_settings(config(tmp_path, text, **environ))
    assert KEY not in str(failure.value) and HASH not in str(failure.value)


@pytest.mark.parametrize("url, write", [
    ("mysql://usestats_ro:s3cret@db.example.com/moodle?charset=utf8mb4",
     "write mysql+pymysql://usestats_ro:***@db.example.com/moodle?charset=utf8mb4"),
    ("mariadb://usestats_ro:s3cret@db.example.com/moodle", "write mariadb+pymysql://usestats_ro:***@"),
    ("postgres://usestats_ro:s3cret@db.example.com/moodle",
     "write postgresql+psycopg://usestats_ro:***@db.example.com/moodle"),
    ("mysql+mysqldb://usestats_ro:s3cret@db/moodle", "write mysql+pymysql://usestats_ro:***@db/moodle"),
    ("oracle+cx_oracle://usestats_ro:s3cret@db/moodle", "write mysql+pymysql://USER:PASSWORD@HOST"),
    ("moodle database on db.example.com", "is not a database URL: write mysql+pymysql://"),
])
def test_a_database_url_without_its_driver_says_what_to_write(tmp_path, url, write):
    """The form a Moodle admin writes (mysql://) needs a driver the service does not ship: the
    error names the setting and the URL to write, without the password; the same for a file's
    database_url and a site's."""
    path = tmp_path / "usestats.toml"
    path.write_text(f'database_url = "{url}"\n')
    sites = tmp_path / "sites.toml"
    sites.write_text(f'[sites."https://moodle-b.example.com"]\ndatabase_url = "{url}"\n')
    for environ, name in (({"USESTATS_DATABASE_URL": url}, "USESTATS_DATABASE_URL"),
                          ({"USESTATS_CONFIG": str(path)}, "database_url"),
                          ({"USESTATS_CONFIG": str(sites)}, "sites.'https://moodle-b.example.com'.database_url")):
        with pytest.raises(ConfigError) as failure:
            load_settings(environ)
        message = str(failure.value)
        assert message.startswith(f"{name} ") and write in message and "s3cret" not in message


def test_the_database_urls_the_service_can_use(tmp_path):
    for url in ("mysql+pymysql://u:p@db/moodle", "postgresql+psycopg://u@db/moodle",
                f"sqlite:///{tmp_path / 'moodle.sqlite'}"):
        assert load_settings({"USESTATS_DATABASE_URL": url}).database_url == url


def test_the_ledger_is_an_sqlite_file_of_the_service_s_own_by_default_and_none_turns_it_off(
        tmp_path, monkeypatch):
    import soap_usestats.config as config

    monkeypatch.setattr(config, "DEFAULT_LEDGER_URL", DEFAULT_LEDGER_URL)  # tests name another
    assert load_settings({}).ledger_url == Settings().ledger_url == DEFAULT_LEDGER_URL == (
        "sqlite:///var/ledger.sqlite")
    assert load_settings({"USESTATS_LEDGER_URL": "none"}).ledger_url is None
    path = tmp_path / "usestats.toml"
    path.write_text('ledger_url = "postgresql+psycopg://usestats@db/ledger"\n')
    assert load_settings({"USESTATS_CONFIG": str(path)}).ledger_url == (
        "postgresql+psycopg://usestats@db/ledger")
    assert load_settings({"USESTATS_CONFIG": str(path), "USESTATS_LEDGER_URL": "NONE"}
                         ).ledger_url is None


def test_the_service_compiles_every_minute_unless_ledger_interval_says_otherwise(
        tmp_path, monkeypatch):
    import soap_usestats.config as config

    monkeypatch.setattr(config, "DEFAULT_LEDGER_INTERVAL", 60)  # tests turn it off
    assert load_settings({}).ledger_interval == Settings().ledger_interval == 60
    assert load_settings({"USESTATS_LEDGER_INTERVAL": "0"}).ledger_interval == 0
    path = tmp_path / "usestats.toml"
    path.write_text("ledger_interval = 300\n")
    assert load_settings({"USESTATS_CONFIG": str(path)}).ledger_interval == 300
    with pytest.raises(ConfigError, match="^USESTATS_LEDGER_INTERVAL must be a whole number$"):
        load_settings({"USESTATS_LEDGER_INTERVAL": "soon"})


@pytest.mark.parametrize("ledger, moodle", [
    ("postgresql+psycopg://usestats:secret@db/moodle", "postgresql+psycopg://ro@db/moodle"),
    ("sqlite:///var/../var/moodle.sqlite", "sqlite:///var/moodle.sqlite"),
])
def test_a_ledger_in_the_moodle_database_is_refused(tmp_path, ledger, moodle):
    with pytest.raises(ConfigError, match="USESTATS_LEDGER_URL .* is the Moodle database of "
                                          "database_url") as raised:
        load_settings({"USESTATS_DATABASE_URL": moodle, "USESTATS_LEDGER_URL": ledger})
    assert "secret" not in str(raised.value)
    path = tmp_path / "usestats.toml"
    path.write_text(f'ledger_url = "{ledger}"\n[sites."https://moodle-b.example.com"]\n'
                    f'database_url = "{moodle}"\n')
    with pytest.raises(ConfigError, match="ledger_url .* sites.'https://moodle-b.example.com'"):
        load_settings({"USESTATS_CONFIG": str(path)})
