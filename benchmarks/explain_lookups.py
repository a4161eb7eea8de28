"""The lookups of a user or a course by what a client names them by: index used, and time.

    PYTHONPATH=. .venv/bin/python benchmarks/explain_lookups.py [--backend mariadb] [--users 200000]

Builds a Moodle schema with Moodle's indexes (on MariaDB in ``utf8mb4_unicode_ci``, the
collation Moodle installs, whose comparisons ignore case, accents and trailing spaces)
and ``--users`` users, then runs each lookup as the service does (exact: ``matching``),
prints the plan the database chose for it (EXPLAIN of the very statement run: the index,
and the rows it expects to read) and the mean time of one lookup.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import create_engine, event, insert, text

from benchmarks.common import SERVERS, database
from soap_usestats.demo.schema import DemoTables, create_schema
from soap_usestats.moodle.queries import Queries

BATCH, RUNS = 10000, 200


def fill(engine, users: int) -> DemoTables:
    """Moodle's schema with ``users`` users and a course per hundred users."""
    tables = create_schema(engine)
    with engine.begin() as conn:
        for first in range(1, users + 1, BATCH):
            conn.execute(insert(tables.user), [
                {"id": i, "username": f"user{i:07}", "idnumber": f"EMP{i:07}",
                 "email": f"User{i}@Example.com", "firstname": "F", "lastname": "L",
                 "mnethostid": 1, "confirmed": 1}
                for i in range(first, min(first + BATCH, users + 1))])
        conn.execute(insert(tables.course), [
            {"id": c, "category": 1, "fullname": f"Course {c}", "shortname": f"C{c:06}",
             "idnumber": f"CRS-{c:06}"} for c in range(1, users // 100 + 2)])
    with engine.connect() as conn:
        for table in (tables.user, tables.course):
            conn.execute(text(f"ANALYZE {'TABLE ' if engine.dialect.name != 'postgresql' else ''}"
                              f"{table.name}"))
        conn.commit()
    return tables


def lookups(queries: Queries, users: int) -> dict:
    middle = users // 2
    return {
        "user by username": lambda c: queries.find_users(c, "username", f"USER{middle:07}", 1),
        "user by idnumber": lambda c: queries.find_users(c, "idnumber", f"EMP{middle:07}", 1),
        "user by email": lambda c: queries.find_users(c, "email", f"user{middle}@example.COM", 1),
        "100 users by idnumber": lambda c: queries.users_matching(
            c, "idnumber", [f"EMP{i:07}" for i in range(middle, middle + 100)], 1),
        "course by shortname": lambda c: queries.find_courses(c, "shortname", "C000042"),
        "course by idnumber": lambda c: queries.find_courses(c, "idnumber", "CRS-000042"),
    }


def plan(conn, statement: str, parameters) -> str:
    """What the database says it does for the statement: index and rows, per table read."""
    rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).mappings().all()
    if conn.dialect.name == "postgresql":
        return " / ".join(row["QUERY PLAN"].strip() for row in rows[:3])
    return "; ".join(f"{row['table']}: type {row['type']}, key {row['key']}, rows {row['rows']}"
                     for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(SERVERS), default="mariadb")
    parser.add_argument("--users", type=int, default=200000)
    args = parser.parse_args()
    with database(args.backend) as url:
        engine = create_engine(url)
        queries = Queries(fill(engine, args.users))
        print(f"{args.backend}, {args.users} users")
        for name, lookup in lookups(queries, args.users).items():
            seen = []
            listener = lambda _c, _k, statement, parameters, *_: seen.append((statement, parameters))  # noqa: E731
            with engine.connect() as conn:
                event.listen(engine, "before_cursor_execute", listener)
                found = lookup(conn)
                event.remove(engine, "before_cursor_execute", listener)
                explained = plan(conn, *seen[-1])
                started = time.perf_counter()
                for _ in range(RUNS):
                    lookup(conn)
                elapsed = (time.perf_counter() - started) / RUNS
            print(f"{name:22} {len(found):3} found  {elapsed * 1000:6.2f} ms  {explained}")
        engine.dispose()


if __name__ == "__main__":
    main()
