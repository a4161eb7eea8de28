"""What the benchmarks share: fresh databases, a learner's large log, and the service
served by gunicorn as in production."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import Engine, make_url

from soap_usestats.demo.schema import DemoTables, create_schema

SERVERS = {
    "postgresql": os.environ.get("USESTATS_BENCH_POSTGRESQL",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("USESTATS_BENCH_MARIADB",
                              "mysql+pymysql://root@127.0.0.1:3306/mysql?charset=utf8mb4"),
}
BACKENDS = ("sqlite", "postgresql", "mariadb")
#: The benchmark learner, and the administrator whose token the calls present.
LEARNER, ADMIN_TOKEN = "bench", "b" * 32
COURSES, MODULES_PER_COURSE, BATCH = 20, 20, 20000
#: Moodle's own indexes of logstore_standard_log (none orders one user's rows by time).
MOODLE_LOG_INDEXES = {
    "mdl_logsstanlog_tim_ix": ("timecreated",),
    "mdl_logsstanlog_couanotim_ix": ("courseid", "anonymous", "timecreated"),
    "mdl_logsstanlog_useconconcruedu_ix": ("userid", "contextlevel", "contextinstanceid", "crud",
                                           "edulevel", "timecreated"),
}


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A new empty database on ``backend``, dropped afterwards: its URL. On MariaDB it is in
    ``utf8mb4_unicode_ci``, the collation Moodle installs."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    admin = create_engine(SERVERS[backend], isolation_level="AUTOCOMMIT")
    name = f"usestats_bench_{uuid.uuid4().hex[:10]}"
    collation = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend == "mariadb" else ""
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}{collation}"))
    try:
        yield make_url(SERVERS[backend]).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


def site_with_admin(url: str) -> DemoTables:
    """An empty Moodle site with web services on and an administrator holding ADMIN_TOKEN."""
    engine = create_engine(url)
    t = create_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.config), [
            {"name": "mnet_localhost_id", "value": "1"}, {"name": "siteadmins", "value": "1"},
            {"name": "enablewebservices", "value": "1"},
            {"name": "siteidentifier", "value": "bench" + "0" * 27 + "bench.test"}])
        conn.execute(insert(t.mnet_host), [{"id": 1, "wwwroot": "https://bench.test", "name": "Bench"}])
        conn.execute(insert(t.user), [{"id": 1, "username": "admin", "firstname": "A", "lastname": "D",
                                       "email": "a@example.com", "mnethostid": 1, "confirmed": 1}])
        conn.execute(insert(t.external_services), [{"id": 1, "name": "bench", "enabled": 1,
                                                    "restrictedusers": 0}])
        conn.execute(insert(t.external_tokens), [{"token": ADMIN_TOKEN, "tokentype": 0, "userid": 1,
                                                  "externalserviceid": 1, "contextid": 1}])
        conn.execute(insert(t.modules), [{"id": 1, "name": "page"}])
        conn.execute(insert(t.course), [{"id": c, "category": 1, "fullname": f"Course {c}",
                                         "shortname": f"C{c:02}"} for c in range(1, COURSES + 1)])
        cms = [(c, c * 100 + m) for c in range(1, COURSES + 1) for m in range(MODULES_PER_COURSE)]
        conn.execute(insert(t.activity("page")), [{"id": cm, "course": c, "name": f"Page {cm}"}
                                                  for c, cm in cms])
        conn.execute(insert(t.course_modules), [{"id": cm, "course": c, "module": 1, "instance": cm}
                                                for c, cm in cms])
    engine.dispose()
    return t


def add_learner_log(url: str, rows: int, userid: int = 2, username: str = LEARNER) -> None:
    """One learner with ``rows`` log rows: a view every 20-300 s, a break of 1-6 hours every
    40 rows, across 20 courses and 400 activities; a million rows end before 2038.

    The tables are then analysed, as a live site's are (autovacuum, InnoDB's persistent
    statistics): a planner without statistics joins a bulk load as if it were empty.
    """
    engine = create_engine(url)
    t = DemoTables()
    rnd = random.Random(rows)
    cms = [(c, c * 100 + m) for c in range(1, COURSES + 1) for m in range(MODULES_PER_COURSE)]
    with engine.begin() as conn:
        conn.execute(insert(t.user), [{"id": userid, "username": username, "firstname": "B",
                                       "lastname": "L", "email": "b@example.com", "mnethostid": 1,
                                       "confirmed": 1}])
        now, batch = 1_000_000_000, []
        for n in range(rows):
            now += rnd.randint(20, 300) if n % 40 else rnd.randint(4000, 20000)
            course, cm = rnd.choice(cms)
            level = 70 if n % 3 else 50
            batch.append({"userid": userid, "timecreated": now, "action": "viewed",
                          "target": "course_module" if level == 70 else "course",
                          "contextlevel": level, "contextinstanceid": cm if level == 70 else course,
                          "courseid": course, "component": "mod_page" if level == 70 else "core",
                          "origin": "web", "edulevel": 2, "crud": "r", "anonymous": 0})
            if len(batch) == BATCH:
                conn.execute(insert(t.log), batch)
                batch = []
        if batch:
            conn.execute(insert(t.log), batch)
    analyse(engine, t)
    engine.dispose()


def log_indexes(url: str) -> dict[str, tuple[str, ...]]:
    """The indexes of the log table, by name: their columns (the primary key aside)."""
    engine = create_engine(url)
    try:
        found = inspect(engine).get_indexes(DemoTables().log.name)
    finally:
        engine.dispose()
    return {index["name"]: tuple(index["column_names"]) for index in found}


def analyse(engine: Engine, tables: DemoTables) -> None:
    """Planner statistics for every table, by each database's own statement."""
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(text("ANALYZE TABLE " + ", ".join(tables.metadata.tables)))
        else:
            conn.execute(text("ANALYZE"))


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(url: str, app: str = "soap_usestats.wsgi:application", workers: int = 2,
             threads: int = 1, source: str | None = None, **env: str) -> Iterator[str]:
    """``app`` served by gunicorn on a free port; yields its base URL. Its nonce store (and
    with it the counts of failed authentications) is its own unless ``env`` names one.
    With ``source``, a source tree of the service, the code served is that tree's (gunicorn
    runs in it, and puts its working directory first on the path)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state = tempfile.TemporaryDirectory(prefix="usestats-bench-")
    environ = {**os.environ, "USESTATS_DATABASE_URL": url, "USESTATS_PUBLIC_URL": f"{base}/soap",
               "USESTATS_LOG_LEVEL": "warning",
               "USESTATS_NONCE_STORE": os.path.join(state.name, "nonces.sqlite"), **env}
    with state, tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
             str(workers), "--threads", str(threads), "--log-level", "warning", app],
            env=environ, cwd=source, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{base}/", timeout=1).close()
                    break
                except urllib.error.HTTPError:  # an answer, whatever it says: it serves
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        output.seek(0)
                        raise RuntimeError(f"gunicorn did not start:\n{output.read().decode()}")
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def get_stats(base: str, user: str, scope: str = "module", timefrom: int | None = None,
              timeto: int | None = None) -> bytes:
    """One GetStats over HTTP with the administrator's token; the response body."""
    window = "".join(f"<u:{name}>{value}</u:{name}>" for name, value in
                     (("timefrom", timefrom), ("timeto", timeto)) if value is not None)
    body = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:u="urn:soap-usestats:1"><e:Body><u:GetStats><u:targetuser>{user}</u:targetuser>'
            f"<u:statsscope>{scope}</u:statsscope>{window}</u:GetStats></e:Body></e:Envelope>")
    request = urllib.request.Request(f"{base}/soap?wstoken={ADMIN_TOKEN}", data=body.encode(),
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.read()


def median_seconds(run, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]
