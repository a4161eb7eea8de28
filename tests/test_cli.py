"""The soap-usestats command."""

import base64
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from soap_usestats.auth.clients import ClientRegistry
from soap_usestats.cli import main
from soap_usestats.config import load_settings
from soap_usestats.exceptions import AuthenticationFailed
from tests.support.databases import fresh_database
from tests.support.examples import WSDL_FILE
from tests.support.moodle import MoodleBuilder


def test_wsdl_command_writes_the_published_wsdl(tmp_path, monkeypatch):
    monkeypatch.delenv("USESTATS_PUBLIC_URL", raising=False)
    monkeypatch.delenv("USESTATS_CONFIG", raising=False)
    output = tmp_path / "use_stats.wsdl"
    assert main(["wsdl", "--output", str(output)]) == 0
    assert output.read_bytes() == WSDL_FILE.read_bytes()


def test_demo_command_builds_once_and_refuses_an_existing_site(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'var' / 'demo.sqlite'}"
    assert main(["demo", "--url", url, "--learners", "3"]) == 0
    assert "Reference learner: ref.learner" in capsys.readouterr().out
    assert main(["demo", "--url", url]) == 2
    assert "refusing" in capsys.readouterr().err


KEY = "Jb3kX0v6Yl2S9qWc4TnE8uRf1aHd5gPz7mKo0iVyQxs"


@pytest.fixture
def environment(tmp_path, monkeypatch) -> Path:
    """A clean USESTATS_* environment with a configuration file and the secret key, and a
    Moodle database (tables prefixed m_) where the user erp.service exists."""
    for name in [name for name in os.environ if name.startswith("USESTATS_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "usestats.toml"
    path.write_text('table_prefix = "m_"')  # no final newline
    monkeypatch.setenv("USESTATS_CONFIG", str(path))
    monkeypatch.setenv("USESTATS_SECRET_KEY", KEY)
    moodle = MoodleBuilder(f"sqlite:///{tmp_path / 'moodle.sqlite'}", prefix="m_")
    moodle.user("erp.service")
    moodle.user("gone.user", deleted=1)
    moodle.user("peer.user", mnethostid=3)
    moodle.engine.dispose()
    monkeypatch.setenv("USESTATS_DATABASE_URL", moodle.url)
    return path


def test_credentials_key_prints_a_new_256_bit_key(capsys):
    assert main(["credentials", "key"]) == 0
    first = capsys.readouterr().out
    assert main(["credentials", "key"]) == 0
    key = first.strip()
    assert first == key + "\n" and len(key) == 43
    assert len(base64.urlsafe_b64decode(key + "=")) == 32
    assert capsys.readouterr().out.strip() != key


def test_credentials_add_appends_a_client_whose_password_verifies(environment, capsys):
    assert main(["credentials", "add", "sap-prod", "--user", "erp.service"]) == 0
    out, err = capsys.readouterr()
    password = out.splitlines()[-1]
    assert "shown this once" in out and out.count(password) == 1 and err == ""
    assert main(["credentials", "add", "erp@gateway.example", "--trusted"]) == 0
    gateway_password = capsys.readouterr().out.splitlines()[-1]
    text = environment.read_text()
    assert password not in text and gateway_password not in text and KEY not in text
    settings = load_settings()
    assert settings.table_prefix == "m_"
    registry = ClientRegistry.from_settings(settings)
    sap = registry.check_password("sap-prod", password)
    assert (sap.name, sap.trusted, sap.user) == ("sap-prod", False, "erp.service")
    gateway = registry.check_password("erp@gateway.example", gateway_password)
    assert (gateway.trusted, gateway.user) == (True, None)
    with pytest.raises(AuthenticationFailed):
        registry.check_password("sap-prod", gateway_password)


def test_credentials_add_refuses_an_existing_name(environment, capsys):
    assert main(["credentials", "add", "sap-prod", "--trusted"]) == 0
    before = environment.read_text()
    capsys.readouterr()
    assert main(["credentials", "add", "sap-prod", "--trusted"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "client sap-prod exists already" in err
    assert environment.read_text() == before


def test_credentials_add_needs_a_file_and_a_key(environment, monkeypatch, capsys):
    monkeypatch.delenv("USESTATS_SECRET_KEY")
    assert main(["credentials", "add", "sap-prod"]) == 2
    assert "no secret key" in capsys.readouterr().err
    monkeypatch.delenv("USESTATS_CONFIG")
    monkeypatch.setenv("USESTATS_SECRET_KEY", KEY)
    assert main(["credentials", "add", "sap-prod"]) == 2
    assert "USESTATS_CONFIG must name the configuration file" in capsys.readouterr().err
    assert environment.read_text() == 'table_prefix = "m_"'


def test_credentials_add_refuses_a_bad_name_or_user(environment, capsys):
    with pytest.raises(SystemExit):
        main(["credentials", "add", 'sap"prod'])
    assert "a client name is" in capsys.readouterr().err
    assert main(["credentials", "add", "sap-prod", "--user", ""]) == 2
    assert "clients.sap-prod.user must be a non-empty string" in capsys.readouterr().err
    assert environment.read_text() == 'table_prefix = "m_"'


def test_credentials_list_shows_no_secret(environment, capsys):
    assert main(["credentials", "list"]) == 0
    assert capsys.readouterr().out == "No clients are configured.\n"
    passwords = []
    for arguments in (["sap-prod", "--user", "erp.service"], ["gateway", "--trusted"]):
        assert main(["credentials", "add", *arguments]) == 0
        passwords.append(capsys.readouterr().out.splitlines()[-1])
    assert main(["credentials", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines() == ["name      trusted  user",
                                    "sap-prod  no       erp.service",
                                    "gateway   yes      -"]
    for client in load_settings().clients.values():
        assert client.salt not in listing and client.password_hash not in listing
    assert not any(password in listing for password in passwords) and KEY not in listing


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_demo_into_a_database_that_does_not_exist_is_one_line(backend, tmp_path, capsys):
    url, drop = fresh_database(backend, tmp_path)
    drop()
    assert main(["demo", "--url", url, "--learners", "2"]) == 2
    out, err = capsys.readouterr()
    [line] = err.splitlines()
    assert line.startswith(f"soap-usestats demo: cannot build the demo site in {make_url(url)}: ")
    assert make_url(url).database in line and "the database must exist" in line and out == ""


@pytest.mark.parametrize("command", [["demo"], ["check"], ["serve"], ["credentials", "list"],
                                     ["wsdl"]])
def test_every_command_says_which_database_url_to_write(command, monkeypatch, capsys):
    """mysql://, as a Moodle admin writes it, would end in "No module named 'MySQLdb'"."""
    for name in [name for name in os.environ if name.startswith("USESTATS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("USESTATS_DATABASE_URL", "mysql://usestats_ro:s3cret@db.example.com/moodle")
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"soap-usestats {command[0]}: USESTATS_DATABASE_URL mysql://usestats_ro:***@db.example.com/"
        "moodle cannot be used: its driver, MySQLdb, is not installed; write "
        "mysql+pymysql://usestats_ro:***@db.example.com/moodle"]
    assert out == ""


def test_demo_url_option_says_which_url_to_write(capsys):
    assert main(["demo", "--url", "postgres://moodle@db.example.com/moodle"]) == 2
    assert capsys.readouterr().err == (
        "soap-usestats demo: --url postgres://moodle@db.example.com/moodle cannot be used: "
        "postgres:// is not a database SQLAlchemy knows; write "
        "postgresql+psycopg://moodle@db.example.com/moodle\n")


def test_credentials_add_refuses_a_client_that_acts_for_nobody(environment, capsys):
    """Neither --user nor --trusted: every call would be refused, so nothing is added."""
    assert main(["credentials", "add", "sap-prod"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("soap-usestats credentials: a client with neither --user "
                                        "nor --trusted acts for nobody")
    assert "--user USERNAME" in err and "--trusted" in err
    assert environment.read_text() == 'table_prefix = "m_"'


@pytest.mark.parametrize("user", ["erp.servce", "gone.user", "peer.user"])
def test_credentials_add_refuses_a_user_the_site_does_not_have(environment, capsys, user):
    """A typo, a deleted user, another MNET host's user: the credential could never act."""
    assert main(["credentials", "add", "sap-prod", "--user", user]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"soap-usestats credentials: --user {user!r} is not a user of "
                                 "https://moodle.test: create the user in Moodle first, or correct "
                                 "the username\n")
    assert environment.read_text() == 'table_prefix = "m_"'


@pytest.mark.parametrize("database_url", [
    "sqlite:///{tmp}/absent.sqlite", "postgresql+psycopg://postgres@127.0.0.1:1/moodle"])
def test_credentials_add_warns_when_the_database_cannot_tell(environment, capsys, monkeypatch,
                                                              tmp_path, database_url):
    monkeypatch.setenv("USESTATS_DATABASE_URL", database_url.format(tmp=tmp_path))
    assert main(["credentials", "add", "sap-prod", "--user", "erp.service"]) == 0
    out, err = capsys.readouterr()
    assert "shown this once" in out
    [warning] = [line for line in err.splitlines() if "credentials add: warning" in line]
    assert warning.startswith("soap-usestats credentials add: warning: --user 'erp.service' "
                              "not checked")
    assert warning.endswith("soap-usestats check tells once the database answers")
    assert load_settings().clients["sap-prod"].user == "erp.service"
    assert not (tmp_path / "absent.sqlite").exists()


def test_check_names_clients_that_cannot_be_used(environment, capsys):
    """`check` finds what `credentials add` now refuses, in files written before."""
    assert main(["credentials", "add", "sap-prod", "--user", "erp.service"]) == 0
    assert main(["credentials", "add", "gateway", "--trusted"]) == 0
    with environment.open("a") as file:
        file.write('\n[clients.nobody]\nsalt = "s"\npassword_hash = "sha256:' + "ab" * 32 + '"\n'
                   '\n[clients.typo]\nsalt = "s"\npassword_hash = "sha256:' + "ab" * 32 + '"\n'
                   'user = "erp.servce"\n')
    capsys.readouterr()
    assert main(["check"]) == 1
    lines = {line[5:].split(":", 1)[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["client sap-prod"].startswith("ok   client sap-prod: acts as 'erp.service' (user id ")
    assert lines["client gateway"] == "ok   client gateway: trusted: it names the user in callinguser"
    assert lines["client nobody"].startswith("FAIL client nobody: neither a user nor trusted")
    assert lines["client typo"] == ("FAIL client typo: acts as 'erp.servce', who is not a user of "
                                    "this site")
