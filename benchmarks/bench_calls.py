"""Whole calls through the WSGI application: the cost of authentication and authorisation.

    .venv/bin/python benchmarks/bench_calls.py [--calls 50]

Builds the demo site in a temporary SQLite file and calls GetStats (course scope, the
reference learner) in-process with each of the demo's web service tokens: the manager
(site capability), PM110's teacher (course capability: the answer is limited to the
courses where the teacher holds it) and the learner (own figures). Prints the mean time
per call and the SQL statements per call, which do not grow with the caller's roles.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from io import BytesIO
from pathlib import Path

from sqlalchemy import event

from soap_usestats.config import Settings
from soap_usestats.demo.site import build_demo_site
from soap_usestats.web.app import create_app

REQUEST = ('<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
           'xmlns:u="urn:soap-usestats:1"><e:Body><u:GetStats><u:targetuser>{user}</u:targetuser>'
           "<u:statsscope>course</u:statsscope></u:GetStats></e:Body></e:Envelope>")


def call(app, token: str, user: str) -> str:
    body = REQUEST.format(user=user).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/soap", "QUERY_STRING": f"wstoken={token}",
               "wsgi.input": BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "text/xml; charset=utf-8", "REMOTE_ADDR": "127.0.0.1",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    statuses = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.sqlite'}"
        demo = build_demo_site(url)
        app = create_app(Settings(database_url=url))
        statements = []
        event.listen(app.network.home.engine, "before_cursor_execute", lambda *_: statements.append(1))
        for caller, token in demo.tokens.items():
            assert call(app, token, demo.reference.username).startswith("200")
            statements.clear()
            started = time.perf_counter()
            for _ in range(args.calls):
                call(app, token, demo.reference.username)
            elapsed = (time.perf_counter() - started) / args.calls
            print(f"{caller:8} {elapsed * 1000:6.1f} ms/call  "
                  f"{len(statements) / args.calls:.0f} statements/call")
        app.network.home.engine.dispose()


if __name__ == "__main__":
    main()
