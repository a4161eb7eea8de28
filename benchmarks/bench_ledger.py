"""GetStats at module scope for one heavy learner: from the log alone, and with the ledger
caught up; beside the bare fetch of the learner's rows.

    .venv/bin/python benchmarks/bench_ledger.py [--backend postgresql] [--rows 100000]

One learner with ROWS log rows (common.add_learner_log) in a new Moodle database and a
ledger in a new database on the same server (SQLite: a file beside it), compiled once
(timed). Then the median of three calls of ``MoodleSite.get_stats`` in-process, each
way, and of a plain SELECT of the learner's rows into Python.
"""

from __future__ import annotations

import argparse
import time

import common
from sqlalchemy import select

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.schema import DemoTables
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.ledger import compiler, migrate
from soap_usestats.ledger.answer import Ledger
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.tables import MoodleTables

END = 2**31 - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="postgresql", choices=common.BACKENDS)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with common.database(args.backend) as url, common.database(args.backend) as ledger_url:
        common.site_with_admin(url)
        common.add_learner_log(url, args.rows)
        ledger = migrate.ledger_engine(ledger_url)
        migrate.upgrade(ledger)
        bare = MoodleSite(connect(url), MoodleTables())
        booked = MoodleSite(connect(url), MoodleTables(), ledger=Ledger(ledger))
        try:
            with read_only(bare.engine) as conn:
                settings = bare.time_model(conn).time_settings
            started = time.perf_counter()
            compiler.compile(bare.engine, bare.queries, ledger, settings, END)
            compiled = time.perf_counter() - started
            log = DemoTables().log.c

            def fetch():
                with read_only(bare.engine) as conn:
                    return len(conn.execute(select(log.id, log.timecreated, log.action,
                                                   log.contextlevel, log.contextinstanceid,
                                                   log.courseid).where(log.userid == 2)).all())

            def ask(site):
                return lambda: site.get_stats(StatsRequest(targetuser=common.LEARNER,
                                                           statsscope="module"),
                                              now=END, caller=OPERATOR)

            assert ask(bare)() == ask(booked)()
            fetched = common.median_seconds(fetch)
            alone = common.median_seconds(ask(bare))
            with_ledger = common.median_seconds(ask(booked))
        finally:
            bare.engine.dispose()
            booked.engine.dispose()
            ledger.dispose()
    print(f"{args.backend}, {args.rows} rows: compile {compiled:.2f} s; bare fetch "
          f"{fetched:.3f} s; GetStats module scope from the log {alone:.3f} s "
          f"({alone / fetched:.2f}x), with the ledger {with_ledger:.3f} s "
          f"({with_ledger / fetched:.2f}x)")


if __name__ == "__main__":
    main()
