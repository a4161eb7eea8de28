"""The ledger for one heavy learner: a first compile and one more day of it, and GetStats at
module scope end to end through gunicorn, from the log alone and with the ledger caught up;
beside the bare fetch of the learner's rows.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ledger.py [--backend postgresql] \
        [--rows 400000] [--runs 3]

One learner with ROWS log rows (common.add_learner_log) in a new Moodle database and a
ledger in a new database on the same server (SQLite: a file beside it), compiled once
(timed), then a day of 300 more rows a day after the last, compiled (timed). Then the
median of RUNS calls of GetStats over the whole log and over one day, each way (the
service's answers compared), and of a plain SELECT of the learner's rows into Python.
"""

from __future__ import annotations

import argparse
import re
import time

import common
from sqlalchemy import create_engine, func, insert, select

from soap_usestats.demo.schema import DemoTables
from soap_usestats.domain.site import MoodleSite
from soap_usestats.ledger import compiler, migrate
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.tables import MoodleTables

END = 2**31 - 1
#: A day of the learner's log, well inside it.
DAY = (1_100_000_000, 1_100_086_399)
#: What differs between two answers to the same call: the time of the request.
_MOMENT = re.compile(rb"<tns:(TO|FINALBEFORE)>[^<]*</tns:\1>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="postgresql", choices=common.BACKENDS)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with common.database(args.backend) as url, common.database(args.backend) as ledger_url:
        common.site_with_admin(url)
        common.add_learner_log(url, args.rows)
        ledger = migrate.ledger_engine(ledger_url)
        migrate.upgrade(ledger)
        site = MoodleSite(connect(url), MoodleTables())
        try:
            compiled = _compile(site, ledger)
            _one_more_day(url)
            one_more_day = _compile(site, ledger)
            fetched = common.median_seconds(lambda: _fetch(site), args.runs)
        finally:
            site.engine.dispose()
            ledger.dispose()
        calls = {}
        for way, env in (("log", {"USESTATS_LEDGER_URL": "none"}),
                         ("ledger", {"USESTATS_LEDGER_URL": ledger_url,
                                     "USESTATS_LEDGER_INTERVAL": "0"})):
            with common.gunicorn(url, workers=1, **env) as base:
                for window, bounds in (("whole log", (None, None)), ("one day", DAY)):
                    calls[way, window] = _timed(base, bounds, args.runs)
    for window in ("whole log", "one day"):
        assert calls["log", window][0] == calls["ledger", window][0], window
    print(f"{args.backend}, {args.rows} rows: first compile {compiled:.2f} s "
          f"({compiled / fetched:.1f}x), one more day {one_more_day:.3f} s; bare fetch "
          f"{fetched:.3f} s")
    for window in ("whole log", "one day"):
        alone, booked = calls["log", window][1], calls["ledger", window][1]
        print(f"GetStats module scope, {window}, end to end: from the log {alone:.3f} s "
              f"({alone / fetched:.2f}x), with the ledger {booked:.3f} s ({booked / fetched:.2f}x)")


def _timed(base: str, bounds: tuple[int | None, int | None], runs: int) -> tuple[bytes, float]:
    """The answer to GetStats at module scope over ``bounds`` (the time of the request left
    out), and the median time of ``runs`` calls."""
    ask = lambda: common.get_stats(base, common.LEARNER, "module", *bounds)  # noqa: E731
    return _MOMENT.sub(b"", ask()), common.median_seconds(ask, runs)


def _compile(site: MoodleSite, ledger) -> float:
    with read_only(site.engine) as conn:
        settings = site.time_model(conn).time_settings
    started = time.perf_counter()
    compiler.compile(site.engine, site.queries, ledger, settings, END)
    return time.perf_counter() - started


def _one_more_day(url: str) -> None:
    """300 views a day after the learner's last row, in seven activities of course 1."""
    engine = create_engine(url)
    log = DemoTables().log
    with engine.begin() as conn:
        day = conn.scalar(select(func.max(log.c.timecreated))) + 86400
        conn.execute(insert(log), [
            {"userid": 2, "timecreated": day + 150 * n, "action": "viewed",
             "target": "course_module", "contextlevel": 70, "contextinstanceid": 100 + n % 7,
             "courseid": 1, "component": "mod_page", "origin": "web", "edulevel": 2, "crud": "r",
             "anonymous": 0} for n in range(300)])
    engine.dispose()


def _fetch(site: MoodleSite) -> int:
    log = DemoTables().log.c
    with read_only(site.engine) as conn:
        return len(conn.execute(select(log.id, log.timecreated, log.action, log.contextlevel,
                                       log.contextinstanceid, log.courseid)
                                .where(log.userid == 2)).all())


if __name__ == "__main__":
    main()
