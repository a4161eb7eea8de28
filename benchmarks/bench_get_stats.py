"""Peak memory of a GetStats as the learner's log grows: it must stay flat in the rows.

    .venv/bin/python benchmarks/bench_get_stats.py [--backend sqlite] [--rows 100000 1000000]

For each size, one learner with ROWS log rows (common.add_learner_log) in a new
database; ``MoodleSite.get_stats`` at module scope runs in-process, timed, then again
under tracemalloc for the peak of Python allocations. The database computes the
figures, so the peak follows what is reported (courses, activities, sessions), never
the rows.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import common

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables

END = 2**31 - 1


def measure(url: str) -> tuple[float, int, int]:
    site = MoodleSite(connect(url), MoodleTables())
    try:
        site.get_stats(StatsRequest(targetuser=common.LEARNER, statsscope="module"), now=END,
                       caller=OPERATOR)  # warm the pool
        started = time.perf_counter()
        stats = site.get_stats(StatsRequest(targetuser=common.LEARNER, statsscope="module"),
                               now=END, caller=OPERATOR)
        elapsed = time.perf_counter() - started
        tracemalloc.start()  # a second run: tracemalloc slows allocation down
        site.get_stats(StatsRequest(targetuser=common.LEARNER, statsscope="module"), now=END,
                       caller=OPERATOR)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        site.engine.dispose()
    return elapsed, peak, stats.total.events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite", choices=common.BACKENDS)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'log rows':>10} {'seconds':>8} {'peak MiB':>9}")
    for rows in args.rows:
        with common.database(args.backend) as url:
            common.site_with_admin(url)
            common.add_learner_log(url, rows)
            elapsed, peak, events = measure(url)
        assert events == rows, (events, rows)
        print(f"{rows:>10} {elapsed:>8.2f} {peak / 2**20:>9.2f}")


if __name__ == "__main__":
    main()
