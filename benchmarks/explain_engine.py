"""The engine's statements for a learner's long log: how each finds its log rows, and time.

    PYTHONPATH=. .venv/bin/python benchmarks/explain_engine.py [--backend postgresql]
                                                               [--rows 400000]

Builds the benchmark learner's log (``common.add_learner_log``) with Moodle's own indexes
of the log only, then asks the engine (``timemodel.sql.usage``, module figures) for windows
of it: the whole log; one day in its middle (the reach finds the carry's last reset in the
day before); a day after half a year without rows (the reach looks back a day, four weeks,
then a year); the learner's latest half hour, asked five minutes after its end (the
look-ahead reads every later row, as the latest row's lap still grows). For each statement the engine runs, it prints the access paths the database
chose for the log (EXPLAIN of the very statement) and the rows read, and the statements'
time.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import create_engine, event, insert

from benchmarks import common
from soap_usestats.demo.schema import DemoTables
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.timemodel import sql
from soap_usestats.timemodel.settings import TimeSettings

DAY = 86400
MIDDLE = (1_090_000_000 // DAY) * DAY
#: After the learner's log (which ends in 2007), half a year without rows, then a day.
RETURN = (1_200_000_000 // DAY) * DAY
NOW = 1_300_000_000


def windows(last: int) -> dict[str, tuple[int, int, int]]:
    """Each window's start, end and the time it is asked at."""
    return {
        "whole log": (0, NOW, NOW),
        "one day": (MIDDLE, MIDDLE + DAY - 1, NOW),
        "a day after half a year away": (RETURN, RETURN + DAY - 1, NOW),
        "the latest half hour, just after": (last - 1800, last, last + 300),
    }


def add_return(url: str) -> int:
    """An hour of views after half a year without any: the time of the last."""
    engine, t = create_engine(url), DemoTables()
    times = list(range(RETURN + 8 * 3600, RETURN + 9 * 3600, 120))
    with engine.begin() as conn:
        conn.execute(insert(t.log), [
            {"userid": 2, "timecreated": at, "action": "viewed", "target": "course",
             "contextlevel": 50, "contextinstanceid": 1, "courseid": 1, "component": "core",
             "origin": "web", "edulevel": 2, "crud": "r", "anonymous": 0} for at in times])
    common.analyse(engine, t)
    engine.dispose()
    return times[-1]


def plan(conn, statement: str, parameters) -> list[str]:
    """How the database reads the log for the statement: each access path, with rows."""
    name = conn.dialect.name
    if name == "postgresql":
        rows = conn.exec_driver_sql(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}", parameters).all()
        lines = [row[0] for row in rows]
        return [f"{line.strip()}  /  {lines[n + 1].strip()}" for n, line in enumerate(lines)
                if "logstore" in line and "Scan" in line and n + 1 < len(lines)]
    if name == "mysql":
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).mappings().all()
        return [f"{row['table']}: type {row['type']}, key {row['key']}, rows {row['rows']}"
                for row in rows if row["table"] and "logstore" in row["table"]]
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [row[-1] for row in rows if "logstore" in row[-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=common.BACKENDS, default="postgresql")
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    with common.database(args.backend) as url:
        common.site_with_admin(url)
        common.add_learner_log(url, args.rows)
        assert common.log_indexes(url) == common.MOODLE_LOG_INDEXES
        last = add_return(url)
        engine, tables = connect(url), MoodleTables()
        print(f"{args.backend}, a learner with {args.rows} log rows")
        for name, (start, end, now) in windows(last).items():
            seen: list[tuple[str, object]] = []

            def listener(_conn, _cursor, statement, parameters, *_):
                if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    seen.append((statement, parameters))

            with engine.connect() as conn:
                sql.usage(conn, tables, 2, start, end, TimeSettings(), now=now)  # compiled once
                event.listen(engine, "before_cursor_execute", listener)
                started = time.perf_counter()
                usage = sql.usage(conn, tables, 2, start, end, TimeSettings(), now=now)
                elapsed = time.perf_counter() - started
                event.remove(engine, "before_cursor_execute", listener)
                print(f"\n{name}: {usage.total.events} rows counted, {len(seen)} statements, "
                      f"{elapsed * 1000:.1f} ms")
                for number, (statement, parameters) in enumerate(seen, 1):
                    for line in plan(conn, statement, parameters):
                        print(f"  {number}. {line}")
        engine.dispose()


if __name__ == "__main__":
    main()
