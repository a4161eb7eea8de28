"""``soap-usestats check`` against the demo site on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, select, update

from soap_usestats import checks
from soap_usestats.cli import main
from soap_usestats.config import Settings
from soap_usestats.demo.schema import DemoTables
from soap_usestats.demo.site import build_demo_site
from tests.support.databases import BACKENDS, fresh_database


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request, tmp_path_factory):
    """The demo site on one backend, its database URL, and its manager's username."""
    url, drop = fresh_database(request.param, tmp_path_factory.mktemp("check"))
    site = build_demo_site(url, learners=2)
    t = DemoTables()
    engine = create_engine(url)
    with engine.connect() as conn:
        owner = conn.scalar(select(t.user.c.username).join_from(
            t.external_tokens, t.user, t.user.c.id == t.external_tokens.c.userid)
            .where(t.external_tokens.c.token == site.token))
    engine.dispose()
    yield url, site.token, owner
    drop()


@pytest.fixture
def run(monkeypatch, capsys):
    """Run ``soap-usestats check`` with these environment variables: exit status, lines."""
    monkeypatch.delenv("USESTATS_CONFIG", raising=False)
    monkeypatch.delenv("USESTATS_CHECK_TOKEN", raising=False)

    def run_check(*args: str, **env: str) -> tuple[int, dict[str, str]]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        status = main(["check", *args])
        out = capsys.readouterr().out
        lines = {line[5:].split(":", 1)[0]: line for line in out.splitlines()}
        return status, lines

    return run_check


@contextmanager
def plugin_setting(url: str, plugin: str, name: str, value: str):
    """The site with one config_plugins value changed for the time of the block."""
    table = DemoTables().config_plugins
    where = (table.c.plugin == plugin) & (table.c.name == name)
    engine = create_engine(url)
    with engine.begin() as conn:
        before = conn.scalar(select(table.c.value).where(where))
        conn.execute(update(table).where(where).values(value=value))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(update(table).where(where).values(value=before))
        engine.dispose()


def test_the_demo_site_passes_every_check(demo, run, tmp_path, monkeypatch, capsys):
    url, token, owner = demo
    monkeypatch.setenv("USESTATS_DATABASE_URL", url)
    monkeypatch.setenv("USESTATS_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    assert main(["compile"]) == 0
    capsys.readouterr()
    status, lines = run(USESTATS_CHECK_TOKEN=token)
    assert status == 0
    assert list(lines) == ["database", "tables", "log store", "log lifetime", "block_use_stats",
                           "time model", "ledger", "web services", "wwwroot", "token"]
    assert all(line.startswith("ok   ") for line in lines.values()), lines
    assert "logstore_standard" in lines["log store"]
    assert "threshold 60, lastpingcredit 15" in lines["block_use_stats"]
    assert "https://learn.example.com" in lines["wwwroot"]
    assert lines["token"].endswith(f"it acts as {owner}")
    assert token not in "\n".join(lines.values())


def test_configuration_overrides_are_shown_as_effective(demo, run):
    status, lines = run(USESTATS_DATABASE_URL=demo[0], USESTATS_THRESHOLD="30",
                        USESTATS_ENROLMENTFILTER="true")
    assert status == 0 and "token" not in lines
    assert "threshold 60" in lines["block_use_stats"]
    assert "threshold 30 (configuration), lastpingcredit 15 (site)" in lines["time model"]
    assert "enrolmentfilter on (configuration)" in lines["time model"]


def test_a_wrong_prefix_fails_and_names_the_prefix_found(demo, run):
    status, lines = run(USESTATS_DATABASE_URL=demo[0], USESTATS_TABLE_PREFIX="moodle_")
    assert status == 1
    assert lines["tables"].startswith("FAIL ") and "'moodle_'" in lines["tables"]
    assert lines["tables"].endswith("the Moodle tables here have prefix 'mdl_'")
    assert "log store" not in lines


def test_a_wrong_token_fails_without_being_printed(demo, run):
    status, lines = run("--token", "0123456789abcdef0123456789abcdef", USESTATS_DATABASE_URL=demo[0])
    assert status == 1
    assert lines["token"] == "FAIL token: refused from 127.0.0.1: invalid token"
    assert "0123456789abcdef" not in "\n".join(lines.values())


def test_a_disabled_log_store_fails(demo, run):
    with plugin_setting(demo[0], "tool_log", "enabled_stores", "logstore_database"):
        status, lines = run(USESTATS_DATABASE_URL=demo[0])
    assert status == 1
    assert lines["log store"].startswith("FAIL log store: logstore_standard is not enabled "
                                         "(enabled stores: logstore_database)")


def test_a_log_lifetime_warns_that_old_time_is_gone(demo, run):
    with plugin_setting(demo[0], "logstore_standard", "loglifetime", "365"):
        status, lines = run(USESTATS_DATABASE_URL=demo[0])
    assert status == 0
    assert lines["log lifetime"].startswith("warn log lifetime: loglifetime 365 days")


def test_an_unreachable_database_fails_without_its_password(run):
    status, lines = run(USESTATS_DATABASE_URL="postgresql+psycopg://erp:s3cret-pw@127.0.0.1:1/moodle")
    assert status == 1
    assert list(lines) == ["database"]
    assert lines["database"].startswith(
        "FAIL database: cannot use postgresql+psycopg://erp:***@127.0.0.1:1/moodle")
    assert "s3cret-pw" not in lines["database"]


def test_clients_and_their_users(demo, run, tmp_path):
    """Each configured client: whom it acts as, found as the service finds it; a client that
    acts for nobody, or for a user the site does not have, fails."""
    url, _, owner = demo
    entry = 'salt = "s"\npassword_hash = "sha256:' + "ab" * 32 + '"\n'
    config = tmp_path / "usestats.toml"
    config.write_text(f'[clients.erp]\n{entry}user = "{owner}"\n[clients.hub]\n{entry}trusted = true\n'
                      f'[clients.nobody]\n{entry}[clients.typo]\n{entry}user = "{owner}x"\n')
    status, lines = run(USESTATS_DATABASE_URL=url, USESTATS_CONFIG=str(config),
                        USESTATS_SECRET_KEY="k" * 43)
    assert status == 1
    assert lines["client erp"].startswith(f"ok   client erp: acts as '{owner}' (user id ")
    assert lines["client hub"].startswith("ok   client hub: trusted")
    assert lines["client nobody"].startswith("FAIL client nobody: neither a user nor trusted")
    assert lines["client typo"].startswith(f"FAIL client typo: acts as '{owner}x', who is not")


def test_a_client_user_is_looked_up_read_only(demo):
    url, _, owner = demo
    settings = Settings(database_url=url)
    assert checks.client_user(settings, owner).status == checks.OK
    missing = checks.client_user(settings, owner + "x")
    assert (missing.status, missing.detail) == (
        checks.FAIL, f"'{owner}x' is not a user of https://learn.example.com")


def test_the_token_stays_out_of_the_command_line(demo, run, tmp_path, monkeypatch, capsys):
    """USESTATS_CHECK_TOKEN, --token-file FILE and --token-file - (standard input) give the
    token without putting it where ps shows it; --token still works, with a warning."""
    url, token, owner = demo
    path = tmp_path / "erp.token"
    path.write_text(token + "\n")
    accepted = f"it acts as {owner}"
    status, lines = run("--token-file", str(path), USESTATS_DATABASE_URL=url)
    assert status == 0 and lines["token"].endswith(accepted)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    status, lines = run("--token-file", "-", USESTATS_DATABASE_URL=url)
    assert status == 0 and lines["token"].endswith(accepted)
    status, lines = run(USESTATS_DATABASE_URL=url, USESTATS_CHECK_TOKEN=token)
    assert status == 0 and lines["token"].endswith(accepted)
    monkeypatch.delenv("USESTATS_CHECK_TOKEN")
    assert main(["check", "--token", token]) == 0
    out, err = capsys.readouterr()
    assert "warning: a token on the command line is visible" in err and "USESTATS_CHECK_TOKEN" in err
    assert token not in out + err
    path.write_text("\n")
    assert main(["check", "--token-file", str(path)]) == 2
    assert "holds no token" in capsys.readouterr().err
