"""Slow clients against the service, without and behind deploy/nginx.conf.

    sudo .venv/bin/python benchmarks/bench_slow_clients.py [--connections 300] [--seconds 20]

gunicorn serves the demo site with two sync workers (the weakest case); ``--connections``
clients each send a request's first line and then one header line every 3 s, never
ending their headers, and reconnect when cut off. Meanwhile a GetStats call (the learner's
own token) and a health check are made every second. Printed: for each, how many were
answered, within 2 s, and the slowest; without nginx an unanswered request waits 10 s.
Runs in network namespaces of its own (tests/support/frontend.py): root, and nginx, needed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soap_usestats.demo.site import build_demo_site  # noqa: E402
from tests.support.frontend import run_isolated, why_not_isolated  # noqa: E402

WITHIN = 2.0


def summary(seconds: list[float | None]) -> str:
    answered = [s for s in seconds if s is not None]
    fast = [s for s in answered if s < WITHIN]
    slowest = f"{max(answered):.2f} s" if answered else "-"
    return (f"{len(answered):2}/{len(seconds)} answered, {len(fast):2} within {WITHIN:g} s, "
            f"slowest {slowest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    if reason := why_not_isolated():
        raise SystemExit(f"bench_slow_clients.py cannot run here: {reason}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "moodle.sqlite"
        site = build_demo_site(f"sqlite:///{path}", learners=3)
        print(f"{args.connections} slow connections, a header line every 3 s; "
              f"a call and a health check every second for {args.seconds} s; 2 sync workers")
        for direct in (True, False):
            found = run_isolated(str(path), site.tokens["learner"], site.reference.username,
                                 "--connections", str(args.connections), "--seconds", str(args.seconds),
                                 *(["--direct"] if direct else []), timeout=600)
            print(f"{'gunicorn alone' if direct else 'behind nginx':15} "
                  f"GetStats: {summary(found['calls'])}; /healthz: {summary(found['health_checks'])}; "
                  f"slow clients cut and back: {found['reconnects']}")


if __name__ == "__main__":
    main()
