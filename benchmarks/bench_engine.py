"""GetStats end to end against the bare fetch of the learner's log rows, on each database.

    .venv/bin/python benchmarks/bench_engine.py [--rows 100000 400000] [--backends ...]

For each database and log size: one learner with ROWS log rows (common.add_learner_log),
served by gunicorn (2 workers). It times, side by side and as medians of three runs:
the bare fetch of the learner's rows in time order through the driver (what a
row-by-row engine must at least pay), and a module-scope GetStats over HTTP with a
token, whose figures the database computes. Target: GetStats within 0.5x the bare fetch
on PostgreSQL and MariaDB.
"""

from __future__ import annotations

import argparse

import common
from sqlalchemy import create_engine, select

from soap_usestats.moodle.tables import MoodleTables


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--backends", nargs="+", default=list(common.BACKENDS),
                        choices=common.BACKENDS)
    args = parser.parse_args()
    print(f"{'database':<11} {'log rows':>9} {'bare fetch s':>13} {'GetStats s':>11} {'ratio':>6}")
    for backend in args.backends:
        for rows in args.rows:
            with common.database(backend) as url:
                common.site_with_admin(url)
                common.add_learner_log(url, rows)
                with common.gunicorn(url) as base:
                    assert bare_fetch(url) == rows
                    common.get_stats(base, common.LEARNER)  # warm both workers' pools
                    common.get_stats(base, common.LEARNER)
                    fetch = common.median_seconds(lambda: bare_fetch(url))
                    stats = common.median_seconds(lambda: common.get_stats(base, common.LEARNER))
            print(f"{backend:<11} {rows:>9} {fetch:>13.2f} {stats:>11.2f} {stats / fetch:>6.2f}")


if __name__ == "__main__":
    main()
