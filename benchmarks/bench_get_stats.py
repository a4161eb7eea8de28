"""GetStats on a large log: time and peak memory as the log of one user grows.

    .venv/bin/python benchmarks/bench_get_stats.py [--url URL] [--rows 100000 400000]

Builds one learner with ROWS log rows (a view every 20-300 s in 1-3 h sessions)
across 20 courses and 400 activities, into a new database (SQLite file in a
temporary folder by default, or an empty database at --url), then times
``MoodleSite.get_stats`` at module scope, then records the peak of Python
allocations during a second call (tracemalloc). The log is streamed: memory
follows the sessions, courses and activities reported (here a session per 40
rows), not the rows themselves.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc

from sqlalchemy import create_engine, insert

from soap_usestats.caller import OPERATOR
from soap_usestats.database import connect
from soap_usestats.demo.schema import create_schema
from soap_usestats.site import MoodleSite
from soap_usestats.tables import MoodleTables

COURSES, MODULES_PER_COURSE, BATCH = 20, 20, 20000


def build(url: str, rows: int) -> None:
    engine = create_engine(url)
    t = create_schema(engine)
    rnd = random.Random(rows)
    with engine.begin() as conn:
        conn.execute(insert(t.config), [{"name": "mnet_localhost_id", "value": "1"}])
        conn.execute(insert(t.user), [{"id": 2, "username": "bench", "firstname": "B",
                                       "lastname": "L", "email": "b@example.com", "mnethostid": 1}])
        conn.execute(insert(t.course), [{"id": c, "category": 1, "fullname": f"Course {c}",
                                         "shortname": f"C{c:02}"} for c in range(1, COURSES + 1)])
        conn.execute(insert(t.modules), [{"id": 1, "name": "page"}])
        cms = [(c, c * 100 + m) for c in range(1, COURSES + 1) for m in range(MODULES_PER_COURSE)]
        conn.execute(insert(t.activity("page")), [{"id": cm, "course": c, "name": f"Page {cm}"}
                                                  for c, cm in cms])
        conn.execute(insert(t.course_modules), [{"id": cm, "course": c, "module": 1, "instance": cm}
                                                for c, cm in cms])
        now, batch = 1_000_000_000, []
        for n in range(rows):
            now += rnd.randint(20, 300) if n % 40 else rnd.randint(4000, 90000)
            course, cm = rnd.choice(cms)
            level = 70 if n % 3 else 50
            batch.append({"userid": 2, "timecreated": now, "action": "viewed",
                          "target": "course_module" if level == 70 else "course",
                          "contextlevel": level, "contextinstanceid": cm if level == 70 else course,
                          "courseid": course, "component": "mod_page" if level == 70 else "core",
                          "origin": "web"})
            if len(batch) == BATCH:
                conn.execute(insert(t.log), batch)
                batch = []
        if batch:
            conn.execute(insert(t.log), batch)
    engine.dispose()


def measure(url: str) -> tuple[float, int, int]:
    site = MoodleSite(connect(url), MoodleTables())
    site.get_stats("bench", statsscope="module", now=2**31 - 1, caller=OPERATOR)  # warm the pool
    started = time.perf_counter()
    stats = site.get_stats("bench", statsscope="module", now=2**31 - 1, caller=OPERATOR)
    elapsed = time.perf_counter() - started
    tracemalloc.start()  # a second run: tracemalloc slows allocation down
    site.get_stats("bench", statsscope="module", now=2**31 - 1, caller=OPERATOR)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    site.engine.dispose()
    return elapsed, peak, stats.USER.EVENTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty database to fill (default: a temporary SQLite file)")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 400_000])
    args = parser.parse_args()
    print(f"{'log rows':>10} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as folder:
            url = args.url or f"sqlite:///{folder}/bench.sqlite"
            build(url, rows)
            elapsed, peak, events = measure(url)
            assert events == rows, (events, rows)
            print(f"{rows:>10} {elapsed:>8.2f} {rows / elapsed:>9.0f} {peak / 2**20:>9.1f}")
            if args.url:
                break


if __name__ == "__main__":
    main()
