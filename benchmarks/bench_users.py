"""GetUsersStats over a large log in PostgreSQL, against the bare window query and one
GetStats per user, from the log and from the ledger.

    .venv/bin/python benchmarks/bench_users.py [--users 10000] [--rows 10000000]
                                               [--baseline-users 500]

The log is written by the database itself (``generate_series``): ROWS rows spread over
USERS learners, a view every two minutes, a break every 40 rows, across 20 courses and
400 activities. Then, with gunicorn serving the site:

- the bare in-database window query over the whole log (each row's ``lead()`` gap in its
  user's rows, summed per user): the floor any answer costs;
- every page of a site-wide GetUsersStats (pagesize 1000), end to end over SOAP, from the
  log alone; then the first compile of a ledger (``soap-usestats compile``, a database of
  its own on the same server) and every page again, answered with it: each against the
  window query (issue 21's targets: a page within 0.5x, the first compile within 10x);
- one GetStats per user for BASELINE_USERS users, and that rate over the whole population;
- the peak of Python allocations of one page in-process, with a tenth of the log and with
  all of it: flat in the size of the log.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import urllib.request

import common
from bench_ledger import analyse_ledger, compile_ledger
from lxml import etree
from sqlalchemy import (
    BigInteger,
    String,
    case,
    cast,
    column,
    create_engine,
    func,
    insert,
    literal,
    select,
    text,
)

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.schema import DemoTables
from soap_usestats.domain.requests import UsersStatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables

TNS = "urn:soap-usestats:1"
START = 1_000_000_000
STEP, BREAK, EVERY = 120, 7200, 40
END = 2**31 - 1


def add_users(url: str, users: int) -> None:
    """Learners 2..USERS+1, written by the database."""
    t, engine = DemoTables(), create_engine(url)
    n = func.generate_series(2, users + 1).table_valued("n").render_derived()
    with engine.begin() as conn:
        conn.execute(insert(t.user).from_select(
            ["id", "username", "firstname", "lastname", "email", "mnethostid", "confirmed"],
            select(n.c.n, literal("u") + cast(n.c.n, String), literal("F"),
                   literal("L"), literal("u@example.com"), literal(1), literal(1))))
    engine.dispose()


def add_log(url: str, users: int, first: int, rows: int) -> None:
    """Log rows ``first``..``first+rows-1``: row ``n`` is user ``2 + n % users``'s
    ``n // users``-th view."""
    t, engine = DemoTables(), create_engine(url)
    n = (func.generate_series(first, first + rows - 1)
         .table_valued(column("n", BigInteger)).render_derived().c.n)
    k = n // users
    course = 1 + n % common.COURSES
    cm = course * 100 + k % common.MODULES_PER_COURSE
    module = k % 3 != 0
    columns = {
        "userid": 2 + n % users, "timecreated": START + k * STEP + (k // EVERY) * BREAK,
        "action": literal("viewed"),
        "target": case((module, literal("course_module")), else_=literal("course")),
        "contextlevel": case((module, 70), else_=50),
        "contextinstanceid": case((module, cm), else_=course), "courseid": course,
        "component": case((module, literal("mod_page")), else_=literal("core")),
        "origin": literal("web"), "edulevel": literal(2), "crud": literal("r"),
        "anonymous": literal(0), "eventname": literal("\\core\\event\\viewed"),
    }
    with engine.begin() as conn:
        conn.execute(insert(t.log).from_select(list(columns), select(*columns.values())))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))               # maintenance: Core has no ANALYZE
    engine.dispose()


def window_query(url: str) -> tuple[float, int]:
    """The bare window query over the whole log: seconds, and users answered."""
    log, engine = DemoTables().log.c, create_engine(url)
    gap = (func.lead(log.timecreated).over(partition_by=log.userid,
                                           order_by=(log.timecreated, log.id)) - log.timecreated)
    gaps = select(log.userid, gap.label("gap")).subquery()
    query = select(gaps.c.userid, func.sum(gaps.c.gap)).group_by(gaps.c.userid)
    with engine.connect() as conn:
        started = time.perf_counter()
        users = len(conn.execute(query).all())
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, users


def soap(base: str, operation: str, params: dict) -> etree._Element:
    fields = "".join(f"<u:{k}>{v}</u:{k}>" for k, v in params.items() if v is not None)
    body = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:u="{TNS}"><e:Body><u:{operation}>{fields}</u:{operation}></e:Body></e:Envelope>')
    request = urllib.request.Request(f"{base}/soap?wstoken={common.ADMIN_TOKEN}", data=body.encode(),
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return etree.fromstring(response.read())


def every_page(base: str, floor: float) -> tuple[float, int]:
    """Every page of a site-wide GetUsersStats, each printed (and against ``floor``):
    seconds, and users."""
    cursor, users, total = None, 0, 0.0
    while True:
        started = time.perf_counter()
        answer = soap(base, "GetUsersStats", {"timeto": END, "pagesize": 1000, "cursor": cursor})
        elapsed = time.perf_counter() - started
        page = len(answer.findall(f".//{{{TNS}}}USE_STATS"))
        users, total = users + page, total + elapsed
        print(f"  page of {page} users: {elapsed:.2f} s ({elapsed / floor:.2f} x)")
        cursor = answer.findtext(f".//{{{TNS}}}NEXTCURSOR")
        if not cursor:
            return total, users


def one_by_one(base: str, users: int) -> float:
    started = time.perf_counter()
    for userid in range(2, users + 2):
        soap(base, "GetStats", {"targetuser": userid, "targetuserfield": "id", "timeto": END})
    return time.perf_counter() - started


def page_peak(url: str) -> int:
    """Peak Python allocations of the first site-wide page in-process (pagesize 1000)."""
    site = MoodleSite(connect(url), MoodleTables())
    try:
        tracemalloc.start()
        site.get_users_stats(UsersStatsRequest(timeto=END, pagesize=1000), now=END,
                             caller=OPERATOR)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        site.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--baseline-users", type=int, default=500)
    args = parser.parse_args()
    with common.database("postgresql") as url:
        common.site_with_admin(url)
        add_users(url, args.users)
        started = time.perf_counter()
        add_log(url, args.users, 0, args.rows // 10)
        small = page_peak(url)
        add_log(url, args.users, args.rows // 10, args.rows - args.rows // 10)
        print(f"{args.rows} log rows of {args.users} users written in "
              f"{time.perf_counter() - started:.0f} s")
        large = page_peak(url)
        print(f"peak Python memory of a page: {small / 2**20:.1f} MiB with {args.rows // 10} "
              f"rows, {large / 2**20:.1f} MiB with {args.rows}")
        floor, answered = window_query(url)
        print(f"bare window query over the whole log: {floor:.2f} s, {answered} users")
        with common.gunicorn(url, USESTATS_LEDGER_URL="none") as base:
            soap(base, "GetStats", {"targetuser": "admin", "timeto": END})    # warm up
            print("GetUsersStats, site-wide, pagesize 1000, end to end, from the log:")
            total, users = every_page(base, floor)
            print(f"  {users} users in {total:.2f} s: {total / floor:.2f} x the window query")
            baseline = one_by_one(base, args.baseline_users)
            whole = baseline * args.users / args.baseline_users
            print(f"one GetStats per user: {baseline:.2f} s for {args.baseline_users} users, "
                  f"{whole:.0f} s for all {args.users} at that rate: "
                  f"{whole / total:.1f} x GetUsersStats")
        with common.database("postgresql") as ledger:
            first = compile_ledger(url, ledger)
            print(f"first compile of the ledger: {first:.1f} s, {first / floor:.1f} x the "
                  "window query")
            analyse_ledger(ledger)
            with common.gunicorn(url, USESTATS_LEDGER_URL=ledger,
                                 USESTATS_LEDGER_INTERVAL="0") as base:
                soap(base, "GetStats", {"targetuser": "admin", "timeto": END})
                print("GetUsersStats, site-wide, pagesize 1000, end to end, with the ledger:")
                total, users = every_page(base, floor)
                print(f"  {users} users in {total:.2f} s: {total / floor:.2f} x the window "
                      "query")


if __name__ == "__main__":
    main()
