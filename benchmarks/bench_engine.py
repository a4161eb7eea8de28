"""GetStats end to end on a learner's long log, on each database: against the bare fetch of
the learner's rows and, optionally, against the service before a change.

    .venv/bin/python benchmarks/bench_engine.py [--rows 100000 400000] [--backends ...]
                                                [--before DIR] [--runs 5]

For each database and log size: one learner with ROWS log rows (common.add_learner_log),
in a schema with Moodle's own indexes of the log only (checked), served by gunicorn (2
workers). It times, as medians: the bare fetch of the learner's rows in time order through
the driver (what a row-by-row engine must at least pay), a module-scope GetStats over the
learner's whole log, and one over the day in the middle of it. Target: the whole log within
0.5x the bare fetch on PostgreSQL and MariaDB.

With ``--before DIR``, a source tree of the service as it was (``git archive COMMIT | tar
-x -C DIR``), a second gunicorn serves the same database with that code, and both are
timed call after call, in turn (the machine's load falls on both alike): each window's
median before and after, and their ratio. Targets: one day within 1.5x, the whole log
within 1x. Both must give the whole log the same figures, and a window cut inside a
session different ones (each server runs its own code).
"""

from __future__ import annotations

import argparse
import re
import time
from contextlib import ExitStack

import common
from sqlalchemy import create_engine, func, select

from soap_usestats.moodle.tables import MoodleTables

DAY = 86400
#: How many more calls a day's window is timed with than the whole log: it is quick.
LIGHT_RUNS = 8


def bare_fetch(url: str, userid: int = 2) -> int:
    """Every log row of the learner, in order, fetched to the client: the row count."""
    log = MoodleTables().log.c
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = (select(log.id, log.timecreated, log.action, log.target, log.contextlevel,
                            log.contextinstanceid, log.courseid, log.component)
                     .where(log.userid == userid).order_by(log.timecreated, log.id))
            return sum(1 for _ in conn.execution_options(stream_results=True, yield_per=2000)
                       .execute(query))
    finally:
        engine.dispose()


def in_turn(calls: dict[str, callable], runs: int) -> dict[str, float]:
    """Each call's median time, the calls made in turn, their order turning each round."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for run in range(runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            started = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - started)
    return {name: sorted(taken)[len(taken) // 2] for name, taken in times.items()}


def same_figures(bases: dict[str, str], bounds: dict[str, int]) -> bool:
    """Whether every server gives the learner the same seconds in the window."""
    answers = {common.get_stats(base, common.LEARNER, **bounds) for base in bases.values()}
    seconds = {re.search(rb"<tns:SECONDS>(\d+)</tns:SECONDS>", answer).group(1)
               for answer in answers}
    return len(seconds) == 1


def middle_day(url: str, userid: int = 2) -> int:
    """The UTC midnight that begins the day in the middle of the learner's log."""
    log = MoodleTables().log.c
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            first, last = conn.execute(select(func.min(log.timecreated), func.max(log.timecreated))
                                       .where(log.userid == userid)).one()
    finally:
        engine.dispose()
    return (first + last) // 2 // DAY * DAY


def cut_in_a_session(url: str, day: int, userid: int = 2) -> dict[str, int]:
    """A window ending a second after the day's first row: the rule before this change
    credits that row one second, the rule now its lap (the gap to the next row, or the
    credit)."""
    log = MoodleTables().log.c
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.scalar(select(func.min(log.timecreated))
                              .where(log.userid == userid, log.timecreated >= day))
    finally:
        engine.dispose()
    return {"timefrom": day, "timeto": row + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--backends", nargs="+", default=list(common.BACKENDS),
                        choices=common.BACKENDS)
    parser.add_argument("--before", metavar="DIR",
                        help="a source tree of the service to compare with")
    parser.add_argument("--runs", type=int, default=5, help="calls over the whole log, each")
    args = parser.parse_args()
    versions = ["before", "after"] if args.before else ["after"]
    for backend in args.backends:
        for rows in args.rows:
            with common.database(backend) as url, ExitStack() as servers:
                common.site_with_admin(url)
                common.add_learner_log(url, rows)
                indexes = common.log_indexes(url)
                assert indexes == common.MOODLE_LOG_INDEXES, indexes
                bases = {"after": servers.enter_context(common.gunicorn(url))}
                if args.before:
                    bases["before"] = servers.enter_context(
                        common.gunicorn(url, source=args.before))
                assert bare_fetch(url) == rows
                for base in bases.values():  # warm both workers' pools
                    for _ in range(2):
                        common.get_stats(base, common.LEARNER)
                day = middle_day(url)
                windows = {"whole log": {}, "one day": {"timefrom": day, "timeto": day + DAY - 1}}
                assert same_figures(bases, {}), "the whole log's figures differ"
                if args.before:
                    assert not same_figures(bases, cut_in_a_session(url, day)), "same code"
                fetch = common.median_seconds(lambda: bare_fetch(url))
                medians = {}
                for window, bounds in windows.items():
                    runs = args.runs * (LIGHT_RUNS if bounds else 1)
                    calls = {version: (lambda base=bases[version], bounds=bounds:
                                       common.get_stats(base, common.LEARNER, **bounds))
                             for version in versions}
                    medians[window] = in_turn(calls, runs)
            report(backend, rows, fetch, medians, versions)


def report(backend: str, rows: int, fetch: float, medians: dict[str, dict[str, float]],
           versions: list[str]) -> None:
    """One database's figures: the whole log against the bare fetch, each window's before
    and after."""
    whole = medians["whole log"]["after"]
    print(f"{backend:<11} {rows:>9} rows: bare fetch {fetch:.2f} s, GetStats over the whole "
          f"log {whole:.2f} s ({whole / fetch:.2f}x)")
    if len(versions) > 1:
        for window, median in medians.items():
            before, after = median["before"], median["after"]
            print(f"{'':<11} {window:>14}: before {_time(before)}, after {_time(after)}, "
                  f"after/before {after / before:.2f}")
    else:
        print(f"{'':<11} {'one day':>14}: {_time(medians['one day']['after'])}")


def _time(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    main()
