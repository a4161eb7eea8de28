"""The ledger on a learner's long log: its first compile, one more day compiled, and GetStats
answered with the ledger caught up; each against the bare fetch of the learner's rows.

    .venv/bin/python benchmarks/bench_ledger.py [--backend postgresql] [--rows 400000]
                                                [--runs 5]

One learner with ROWS log rows (common.add_learner_log) in a schema with Moodle's own
indexes of the log only, and a ledger in a database of its own on the same server. It
times, as medians where it can: the bare fetch of the learner's rows in time order through
the driver; ``soap-usestats compile`` from an empty ledger until caught up (the first
compile); the same after one more day of activity (one more day compiled); then GetStats
at module scope over the whole log, over one day, and over a new day each call (as an ERP
asks day after day), end to end through gunicorn (2 workers, the service's own compiler
off), served with the ledger and without it, call after call in turn. Both must give the
same figures.

Targets (issue 21, PostgreSQL): the whole log within 0.25x the bare fetch once compiled; a
first compile within 10x; one more day in proportion to that day, not to the log; a day's
call no slower with the ledger than without.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import subprocess
import sys
import time
from contextlib import ExitStack

import common
from bench_engine import DAY, LIGHT_RUNS, bare_fetch, in_turn, middle_day
from sqlalchemy import create_engine, func, insert, select, text

from soap_usestats.demo.schema import DemoTables
from soap_usestats.ledger import tables as ledger_tables

#: Log rows of the day added after the first compile: a working day of a busy learner.
DAY_ROWS = 300


def compile_ledger(url: str, ledger: str) -> float:
    """``soap-usestats compile`` of the site at ``url`` into ``ledger``, until caught up:
    its wall time in seconds."""
    environ = {**os.environ, "USESTATS_DATABASE_URL": url, "USESTATS_LEDGER_URL": ledger,
               "USESTATS_LOG_LEVEL": "warning"}
    started = time.perf_counter()
    command = os.path.join(os.path.dirname(sys.executable), "soap-usestats")
    subprocess.run([command, "compile"], env=environ, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def booked(ledger: str) -> int:
    """The rows the ledger holds."""
    engine = create_engine(ledger)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(ledger_tables.row))
    finally:
        engine.dispose()


def add_day(url: str, userid: int = 2) -> int:
    """One more day of the learner's activity, starting a little after their latest row
    (and before now, so that it is final): the rows added."""
    engine = create_engine(url)
    t = DemoTables()
    rnd = random.Random(DAY_ROWS)
    try:
        with engine.begin() as conn:
            latest = conn.scalar(select(func.max(t.log.c.timecreated))
                                 .where(t.log.c.userid == userid))
            at, rows = latest + 20000, []
            for n in range(DAY_ROWS):
                at += rnd.randint(20, 200) if n % 60 else rnd.randint(3000, 6000)
                rows.append({"userid": userid, "timecreated": at, "action": "viewed",
                             "target": "course", "contextlevel": 50, "contextinstanceid": 1,
                             "courseid": 1, "component": "core", "origin": "web",
                             "edulevel": 2, "crud": "r", "anonymous": 0})
            conn.execute(insert(t.log), rows)
    finally:
        engine.dispose()
    return DAY_ROWS


def _figures(answer: bytes) -> bytes:
    """An answer without what follows the moment it was given: FINALBEFORE, and TO (the
    window ends now)."""
    return re.sub(rb"<([\w.-]+:)?(FINALBEFORE|TO)>[^<]*</([\w.-]+:)?(FINALBEFORE|TO)>", b"",
                  answer)


def analyse_ledger(url: str) -> None:
    """Planner statistics for the ledger's tables, as a live ledger's are."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(ledger_tables.metadata.tables)
            conn.execute(text(f"ANALYZE TABLE {names}" if engine.dialect.name == "mysql"
                              else "ANALYZE"))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=common.BACKENDS, default="postgresql")
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=5, help="calls over the whole log, each")
    args = parser.parse_args()
    with common.database(args.backend) as url, common.database(args.backend) as ledger, \
            ExitStack() as servers:
        common.site_with_admin(url)
        common.add_learner_log(url, args.rows)
        assert common.log_indexes(url) == common.MOODLE_LOG_INDEXES
        assert bare_fetch(url) == args.rows
        fetch = common.median_seconds(lambda: bare_fetch(url))
        first = compile_ledger(url, ledger)
        assert booked(ledger) == args.rows, "the first compile did not book every row"
        added = add_day(url)
        one_more = compile_ledger(url, ledger)
        analyse_ledger(ledger)
        bases = {name: servers.enter_context(common.gunicorn(
                     url, USESTATS_LEDGER_URL=target, USESTATS_LEDGER_INTERVAL="0"))
                 for name, target in (("ledger", ledger), ("log", "none"))}
        for base in bases.values():  # warm both workers' pools
            for _ in range(2):
                common.get_stats(base, common.LEARNER)
        answers = {name: _figures(common.get_stats(base, common.LEARNER))
                   for name, base in bases.items()}
        assert answers["ledger"] == answers["log"], "the ledger's figures differ from the log's"
        day = middle_day(url)
        medians = {}
        for window, bounds in (("whole log", {}),
                               ("the same day", {"timefrom": day, "timeto": day + DAY - 1})):
            runs = args.runs * (LIGHT_RUNS if bounds else 1)
            medians[window] = in_turn(
                {name: (lambda base=base, bounds=bounds:
                        common.get_stats(base, common.LEARNER, **bounds))
                 for name, base in bases.items()}, runs)
        runs = args.runs * LIGHT_RUNS  # each path the same days, one after the other
        medians["a new day"] = in_turn({name: _day_after_day(base, day - runs // 2 * DAY)
                                        for name, base in bases.items()}, runs)
    whole = medians["whole log"]
    print(f"{args.backend} {args.rows} rows: bare fetch {fetch:.2f} s")
    print(f"  first compile {first:.2f} s ({first / fetch:.2f}x the bare fetch); one more day "
          f"({added} rows) {one_more:.2f} s")
    print(f"  GetStats, whole log: with the ledger {whole['ledger']:.2f} s "
          f"({whole['ledger'] / fetch:.2f}x the bare fetch), from the log "
          f"{whole['log']:.2f} s ({whole['log'] / fetch:.2f}x)")
    for window in ("the same day", "a new day"):
        light = medians[window]
        print(f"  GetStats, {window} each call: with the ledger {light['ledger'] * 1000:.1f} ms, "
              f"from the log {light['log'] * 1000:.1f} ms")


def _day_after_day(base: str, first: int):
    """A GetStats of one day each call, the day after the previous call's, from ``first`` on."""
    days = itertools.count(first, DAY)

    def call() -> bytes:
        day = next(days)
        return common.get_stats(base, common.LEARNER, timefrom=day, timeto=day + DAY - 1)
    return call


if __name__ == "__main__":
    main()
