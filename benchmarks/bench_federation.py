"""whereroot * over three sites against each site's own call, end to end through gunicorn.

A hub in front of its own site (SQLite), a site it reads directly (PostgreSQL) and a
site behind a peer service (MariaDB), each with LEARNER_ROWS log rows for one learner.
Since the sites are asked at once, a * call should take about the slowest single call.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.federation.test_federation_e2e import _clients, _peer, _served, client  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from tests.support.network import B, C, HOME, build_site  # noqa: E402
from soap_usestats.auth.clients import new_secret_key  # noqa: E402
from sqlalchemy import select  # noqa: E402

LEARNER_ROWS = 20_000
RUNS = 5
WINDOW = dict(timefrom=0, timeto=2_000_000_000)


def more_rows(site, rows: int) -> None:
    """``rows`` more page views of lee, one every two minutes."""
    b = site.builder
    user = b.tables.user
    course = b.course("BULK")
    with b.engine.begin() as conn:
        lee = conn.scalar(select(user.c.id).where(user.c.username == "lee"))
        conn.execute(b.tables.log.insert(), [
            dict(id=10_000_000 + i, userid=lee, timecreated=3_000_000 + 120 * i, action="viewed",
                 target="course", contextlevel=50, contextinstanceid=course, courseid=course, component="core",
                 eventname="\\core\\event\\course_viewed", crud="r", origin="web")
            for i in range(rows)])


def timed(call) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    folder = Path(__file__).resolve().parent.parent / "var" / "bench_federation"
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        urls = {HOME: f"sqlite:///{folder / 'home.sqlite'}"}
        Path(folder / "home.sqlite").unlink(missing_ok=True)
        for wwwroot, backend in ((B, "postgresql"), (C, "mariadb")):
            urls[wwwroot], drop = fresh_database(backend, folder)
            stack.callback(drop)
        sites = {HOME: build_site(urls[HOME], HOME, None, 0), B: build_site(urls[B], B, HOME, 1),
                 C: build_site(urls[C], C, HOME, 2)}
        for site in sites.values():
            more_rows(site, LEARNER_ROWS)
            site.builder.engine.dispose()
        key = new_secret_key()
        clients, password = _clients(key)
        peer = _served(stack, urls[C], folder, "peer-c", clients, key)
        hub = _served(stack, urls[HOME], folder, "hub",
                      f'[sites."{B}"]\ndatabase_url = "{urls[B]}"\n' + _peer(C, peer, password))
        service = client(hub, sites[HOME].tokens["mgr"], timeout=120).service
        asked = dict(targetuser="lee", statsscope="module", **WINDOW)
        single = {where: timed(lambda w=where: service.GetStats(whereroot=w, **asked))
                  for where in (HOME, B, C)}
        everywhere = timed(lambda: service.GetStats(whereroot="*", **asked))
    slowest = max(single, key=single.get)
    for where, seconds in single.items():
        print(f"GetStats whereroot={where}: {seconds * 1000:.0f} ms (median of {RUNS})")
    print(f"GetStats whereroot=*: {everywhere * 1000:.0f} ms = {everywhere / single[slowest]:.2f}x "
          f"the slowest single site ({slowest}), {everywhere / sum(single.values()):.2f}x their sum")


if __name__ == "__main__":
    main()
