"""Light calls per second: a one-day GetStats against a Spyne no-op, under the same gunicorn.

    .venv/bin/python benchmarks/bench_light.py [--seconds 10] [--connections 8]

On PostgreSQL, one learner with a term of log rows; a GetStats for one day of it
(site scope, token checked) and a Spyne no-op operation (benchmarks/noop_app.py) are
each served by gunicorn with the service's own settings (2 workers) and loaded by
``wrk`` for the same time with the same connections. Target: the service keeps at
least 40% of the no-op's rate. Needs wrk (Debian's package ``wrk``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import common

DAY_START = 1_000_000_000 + 86400 * 30
NOOP = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:n="urn:soap-usestats:noop"><e:Body><n:Echo><n:text>ping</n:text></n:Echo>'
        "</e:Body></e:Envelope>")
STATS = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
         'xmlns:u="urn:soap-usestats:1"><e:Body><u:GetStats><u:targetuser>bench</u:targetuser>'
         f"<u:timefrom>{DAY_START}</u:timefrom><u:timeto>{DAY_START + 86400}</u:timeto>"
         "</u:GetStats></e:Body></e:Envelope>")


def rate(url: str, body: str, seconds: int, connections: int) -> float:
    """Requests per second ``wrk`` gets POSTing ``body`` to ``url``; every answer must be 200."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "text/xml; charset=utf-8"\n'
                          f"wrk.body = [[{body}]]\n")
        output = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url],
            capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"some answers were not 200:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_light.py needs wrk: apt-get install wrk")
    with common.database("postgresql") as url:
        common.site_with_admin(url)
        common.add_learner_log(url, 20_000)
        with common.gunicorn(url, "benchmarks.noop_app:application", threads=4) as base:
            noop = rate(f"{base}/", NOOP, args.seconds, args.connections)
        with common.gunicorn(url, threads=4) as base:
            assert b"<tns:USERNAME>bench" in common.get_stats(base, "bench", "site", DAY_START,
                                                               DAY_START + 86400)
            stats = rate(f"{base}/soap?wstoken={common.ADMIN_TOKEN}", STATS, args.seconds,
                         args.connections)
    print(f"{'Spyne no-op':<24} {noop:>8.0f} requests/s")
    print(f"{'GetStats, one day':<24} {stats:>8.0f} requests/s  ({stats / noop:.0%} of the no-op)")


if __name__ == "__main__":
    main()
