"""``soap-usestats compile``: migrates the ledger, books the log until caught up and exits;
a second compiler meets the lock. ``soap-usestats check`` reports the ledger, and the
settings of the rows a change of settings kept."""

from __future__ import annotations

from sqlalchemy import delete

from soap_usestats import cli
from soap_usestats.ledger import migrate
from soap_usestats.ledger.lock import Lease
from tests.support.ledger import booked_rows


def test_compile_books_the_log_and_exits(builder, tmp_path, monkeypatch, capsys):
    user, course = builder.user("alice"), builder.course("C1")
    builder.log(user, 1000, "loggedin", "user", 10)
    builder.log(user, 1060, "viewed", "course", 50, course)
    ledger_url = f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}"
    monkeypatch.setenv("USESTATS_DATABASE_URL", builder.url)
    monkeypatch.setenv("USESTATS_LEDGER_URL", ledger_url)
    assert cli.main(["compile"]) == 0
    assert "booked 2 rows of 1 users" in capsys.readouterr().out
    engine = migrate.ledger_engine(ledger_url)
    assert len(booked_rows(engine)) == 2
    with Lease(engine):
        assert cli.main(["compile"]) == 2
        assert "another compiler holds the ledger" in capsys.readouterr().err
    engine.dispose()


def test_compile_refuses_when_the_ledger_is_off(monkeypatch, capsys):
    monkeypatch.setenv("USESTATS_LEDGER_URL", "none")
    assert cli.main(["compile"]) == 2
    assert "the ledger is off" in capsys.readouterr().err


def test_check_reports_the_ledger(builder, tmp_path, monkeypatch):
    from soap_usestats.checks import check
    from soap_usestats.config import load_settings

    user = builder.user("alice")
    builder.log(user, 1000, "loggedin", "user", 10)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("USESTATS_DATABASE_URL", builder.url)
    monkeypatch.setenv("USESTATS_LEDGER_URL", ledger_url)

    def finding():
        return next(f for f in check(load_settings(), now=5000) if f.subject == "ledger")

    assert "does not exist yet" in finding().detail
    assert cli.main(["compile"]) == 0
    compiled = finding()
    assert compiled.status == "ok" and '"threshold": 60' in compiled.detail
    builder.log(user, 2000, "loggedout", "user", 10)
    behind = finding()
    assert behind.status == "warn" and "the log is 1 rows" in behind.detail
    monkeypatch.setenv("USESTATS_LEDGER_URL", "none")
    assert finding().detail.startswith("off")


def test_check_names_the_settings_of_the_rows_a_change_of_settings_kept(builder, tmp_path,
                                                                        monkeypatch):
    from soap_usestats.checks import check
    from soap_usestats.config import load_settings
    from soap_usestats.ledger.compiler import settings_text
    from soap_usestats.timemodel.settings import TimeSettings

    user, course = builder.user("alice"), builder.course("C1")
    for t in (1000, 90000):   # two days
        builder.log(user, t, "loggedin", "user", 10)
        builder.log(user, t + 60, "viewed", "course", 50, course)
    monkeypatch.setenv("USESTATS_DATABASE_URL", builder.url)
    monkeypatch.setenv("USESTATS_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    assert cli.main(["compile"]) == 0
    log = builder.tables.log
    with builder.engine.begin() as conn:   # Moodle purges the first day
        conn.execute(delete(log).where(log.c.timecreated < 50000))
    builder.config_plugin("block_use_stats", "threshold", "30")
    assert cli.main(["compile"]) == 0
    [found] = [f for f in check(load_settings(), now=200000) if f.subject == "ledger"]
    assert f"compiled with {settings_text(TimeSettings(threshold=30))}," in found.detail
    assert found.status == "ok" and found.detail.endswith(" UTC)")
    assert (f"; 2 rows before 1970-01-02 01:00:00 UTC keep their bookings under "
            f"{settings_text(TimeSettings())} (the log no longer held them when those settings "
            "changed, ") in found.detail
