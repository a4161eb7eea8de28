"""``soap-usestats compile``: migrates the ledger, books the log until caught up and exits;
a second compiler meets the lock."""

from __future__ import annotations

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
